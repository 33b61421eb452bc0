// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ServiceCredits} from "../src/credits/ServiceCredits.sol";
import {SettablePriceFeed} from "../src/credits/SettablePriceFeed.sol";
import {IAggregatorV3} from "../src/interfaces/IAggregatorV3.sol";
import {GroundworkToken} from "../src/token/GroundworkToken.sol";
import {WindowedCircuitBreaker} from "../src/utils/WindowedCircuitBreaker.sol";
import {Base} from "./utils/Base.t.sol";

contract ServiceCreditsTest is Base {
    address internal spender = makeAddr("spender");
    address internal holder = makeAddr("holder");
    address internal holder2 = makeAddr("holder2");

    function setUp() public override {
        super.setUp();
        bytes32 role = credits.SPENDER_ROLE();
        bytes32 escrowRole = credits.ESCROW_ROLE();
        vm.startPrank(address(timelock));
        credits.grantRole(role, spender);
        credits.grantRole(escrowRole, holder);
        credits.grantRole(escrowRole, holder2);
        vm.stopPrank();
    }

    function _mintAs(address who, uint256 tokens) internal returns (uint256) {
        _fund(who, tokens);
        vm.startPrank(who);
        token.approve(address(credits), tokens);
        uint256 c = credits.mint(who, tokens, 0);
        vm.stopPrank();
        return c;
    }

    function test_MintAtFeedPrice() public {
        // 1 token at $2 = $2 = 200,000 credits (1 credit = $0.00001)
        uint256 supplyBefore = token.totalSupply();
        _fund(alice, 1 ether);
        vm.startPrank(alice);
        token.approve(address(credits), 1 ether);
        vm.expectEmit(address(credits));
        emit ServiceCredits.CreditsMinted(alice, alice, 1 ether, 200_000, PRICE);
        uint256 c = credits.mint(alice, 1 ether, 200_000);
        vm.stopPrank();
        assertEq(c, 200_000);
        assertEq(credits.balanceOf(alice), 200_000);
        assertEq(credits.totalSupply(), 200_000);
        assertEq(token.totalSupply(), supplyBefore - 1 ether, "token burned");
        assertEq(token.balanceOf(alice), 0);
    }

    function testFuzz_MintRoundsDownAndQuoteRoundsUp(uint256 tokens, int256 price) public {
        tokens = bound(tokens, 1e13, 1_000_000 ether);
        price = int256(bound(uint256(price), 1e4, 1e12)); // $0.0001 .. $10,000
        feed.setPrice(price);
        uint256 expected = tokens * uint256(price) * 100_000 / (1e18 * 1e8);
        vm.assume(expected > 0 && expected <= BREAKER_LIMIT);
        uint256 c = _mintAs(alice, tokens);
        assertEq(c, expected);
        uint256 needed = credits.quoteTokens(c);
        assertLe(needed, tokens, "quote for what was bought never exceeds what was paid");
        assertGe(credits.quoteCredits(needed), c, "quoted tokens buy at least the credits");
    }

    function test_MintForAnotherAccount() public {
        _fund(alice, 1 ether);
        vm.startPrank(alice);
        token.approve(address(credits), 1 ether);
        credits.mint(bob, 1 ether, 200_000);
        vm.stopPrank();
        assertEq(credits.balanceOf(bob), 200_000);
        assertEq(credits.balanceOf(alice), 0);
    }

    function test_RevertWhen_PriceStale() public {
        _fund(alice, 1 ether);
        vm.warp(block.timestamp + MAX_PRICE_AGE + 1);
        vm.startPrank(alice);
        token.approve(address(credits), 1 ether);
        vm.expectRevert(
            abi.encodeWithSelector(ServiceCredits.StalePrice.selector, genesisTime, MAX_PRICE_AGE, block.timestamp)
        );
        credits.mint(alice, 1 ether, 0);
        vm.stopPrank();
    }

    function test_PriceExactlyAtMaxAgeIsAccepted() public {
        vm.warp(block.timestamp + MAX_PRICE_AGE);
        assertEq(credits.quoteCredits(1 ether), 200_000);
    }

    function testFuzz_RevertWhen_PriceNotPositive(int256 answer) public {
        answer = int256(bound(answer, type(int256).min, 0));
        feed.setPrice(answer);
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.InvalidPrice.selector, answer));
        credits.quoteCredits(1 ether);
    }

    function test_RevertWhen_PriceAbsurdlyLarge() public {
        int256 huge = int256(uint256(type(uint128).max) + 1);
        feed.setPrice(huge);
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.InvalidPrice.selector, huge));
        credits.quoteCredits(1 ether);
    }

    function test_RevertWhen_FeedDecimalsTooMany() public {
        SettablePriceFeed weird = new SettablePriceFeed(address(this), 77, "x", 1);
        vm.prank(address(timelock));
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.InvalidFeedDecimals.selector, 77));
        credits.setPriceFeed(IAggregatorV3(address(weird)), 60);
    }

    function test_RevertWhen_SlippageOrDust() public {
        _fund(alice, 1 ether);
        vm.startPrank(alice);
        token.approve(address(credits), 1 ether);
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.SlippageExceeded.selector, 200_000, 200_001));
        credits.mint(alice, 1 ether, 200_001);
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.TooSmallForOneCredit.selector, 1, PRICE));
        credits.mint(alice, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.ZeroAmount.selector, "tokenAmount"));
        credits.mint(alice, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.ZeroAddress.selector, "to"));
        credits.mint(address(0), 1 ether, 0);
        vm.stopPrank();
    }

    function test_RevertWhen_NoTokenAllowance() public {
        _fund(alice, 1 ether);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(credits), 0, 1 ether)
        );
        credits.mint(alice, 1 ether, 0);
    }

    function test_CircuitBreakerTripsAndRecoversLinearly() public {
        vm.prank(address(timelock));
        credits.setBreaker(1_000_000, 1000); // 1M credits per 1000 s
        (uint256 limit, uint256 window) = credits.breakerConfig();
        assertEq(limit, 1_000_000);
        assertEq(window, 1000);
        _mintAs(alice, 5 ether); // 1M credits: the whole window
        assertEq(credits.breakerAvailable(), 0);
        _fund(bob, 1 ether);
        vm.startPrank(bob);
        token.approve(address(credits), 1 ether);
        vm.expectRevert(
            abi.encodeWithSelector(WindowedCircuitBreaker.CircuitBreakerTripped.selector, 200_000, 0, 1_000_000)
        );
        credits.mint(bob, 1 ether, 0);
        vm.stopPrank();
        vm.warp(block.timestamp + 100); // a tenth of the window drains a tenth of the limit
        feed.setPrice(PRICE);
        vm.startPrank(bob);
        assertEq(credits.breakerAvailable(), 100_000);
        vm.expectRevert(
            abi.encodeWithSelector(WindowedCircuitBreaker.CircuitBreakerTripped.selector, 200_000, 100_000, 1_000_000)
        );
        credits.mint(bob, 1 ether, 0);
        vm.stopPrank();
        vm.warp(block.timestamp + 100);
        feed.setPrice(PRICE);
        vm.prank(bob);
        credits.mint(bob, 1 ether, 0);
        assertEq(credits.breakerAvailable(), 0);
        vm.warp(block.timestamp + 5000);
        assertEq(credits.breakerAvailable(), 1_000_000);
    }

    function testFuzz_BreakerNeverLetsMoreThanLimitThroughPerWindow(uint256[8] memory gaps, uint256[8] memory amounts)
        public
    {
        uint256 limit = 1_000_000;
        uint256 window = 1000;
        vm.prank(address(timelock));
        credits.setBreaker(limit, window);
        uint256 start = block.timestamp;
        uint256 minted;
        for (uint256 i; i < 8; ++i) {
            vm.warp(block.timestamp + bound(gaps[i], 0, 120));
            feed.setPrice(1e8); // $1: 1 token = 100,000 credits
            uint256 tokens = bound(amounts[i], 1, 10) * 1 ether;
            _fund(alice, tokens);
            vm.startPrank(alice);
            token.approve(address(credits), tokens);
            try credits.mint(alice, tokens, 0) returns (uint256 c) {
                minted += c;
            } catch {}
            vm.stopPrank();
        }
        // Within any stretch of t seconds at most limit + limit * t / window can pass.
        uint256 elapsed = block.timestamp - start;
        assertLe(minted, limit + limit * elapsed / window);
    }

    function test_RevertWhen_BreakerConfigInvalid() public {
        vm.startPrank(address(timelock));
        vm.expectRevert(abi.encodeWithSelector(WindowedCircuitBreaker.InvalidBreakerConfig.selector, 0, 1));
        credits.setBreaker(0, 1);
        vm.expectRevert(abi.encodeWithSelector(WindowedCircuitBreaker.InvalidBreakerConfig.selector, 1, 0));
        credits.setBreaker(1, 0);
        vm.stopPrank();
    }

    function test_SpendRecordsNetworkAndDevice() public {
        uint256 c = _mintAs(alice, 1 ether);
        vm.prank(alice);
        credits.approveSpender(spender, 50_000);
        vm.expectEmit(address(credits));
        emit ServiceCredits.CreditsSpent(alice, spender, UPTIME, 42, 30_000);
        vm.prank(spender);
        credits.spend(alice, 30_000, UPTIME, 42);
        assertEq(credits.balanceOf(alice), c - 30_000);
        assertEq(credits.totalSupply(), c - 30_000);
        assertEq(credits.spentOnNetwork(UPTIME), 30_000);
        assertEq(credits.spentOnDevice(42), 30_000);
        assertEq(credits.spendAllowance(alice, spender), 20_000);
        vm.prank(spender);
        credits.spend(alice, 20_000, UPTIME, 0);
        assertEq(credits.spentOnDevice(0), 0, "unattributed spends are not booked to device 0");
        assertEq(credits.spentOnNetwork(UPTIME), 50_000);
    }

    function test_InfiniteAllowanceIsNotDecremented() public {
        _mintAs(alice, 1 ether);
        vm.prank(alice);
        credits.approveSpender(spender, type(uint256).max);
        vm.prank(spender);
        credits.spend(alice, 10, UPTIME, 1);
        assertEq(credits.spendAllowance(alice, spender), type(uint256).max);
    }

    function test_RevertWhen_SpendWithoutAllowanceOrBalance() public {
        _mintAs(alice, 1 ether);
        vm.startPrank(spender);
        vm.expectRevert(
            abi.encodeWithSelector(ServiceCredits.InsufficientSpendAllowance.selector, alice, spender, 0, 1)
        );
        credits.spend(alice, 1, UPTIME, 0);
        vm.stopPrank();
        vm.prank(alice);
        credits.approveSpender(spender, type(uint256).max);
        vm.startPrank(spender);
        vm.expectRevert(
            abi.encodeWithSelector(ServiceCredits.InsufficientCredits.selector, alice, 200_000, 200_001)
        );
        credits.spend(alice, 200_001, UPTIME, 0);
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.ZeroAmount.selector, "amount"));
        credits.spend(alice, 0, UPTIME, 0);
        vm.expectRevert(ServiceCredits.ZeroNetwork.selector);
        credits.spend(alice, 1, bytes32(0), 0);
        vm.stopPrank();
    }

    function testFuzz_RevertWhen_SpendByNonSpender(address caller) public {
        vm.assume(caller != spender && caller != address(registry));
        _mintAs(alice, 1 ether);
        vm.prank(alice);
        credits.approveSpender(caller == address(0) ? address(1) : caller, 1);
        bytes32 role = credits.SPENDER_ROLE();
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, role));
        credits.spend(alice, 1, UPTIME, 0);
    }

    // ------------------------------------------------------------------ held credits

    function test_HoldReleaseAndSpendHeld() public {
        uint256 c = _mintAs(alice, 1 ether); // 200,000 credits
        vm.expectEmit(address(credits));
        emit ServiceCredits.CreditsHeld(alice, holder, 120_000);
        vm.prank(holder);
        credits.hold(alice, 120_000);
        assertEq(credits.balanceOf(alice), c - 120_000, "held credits leave the spendable balance");
        assertEq(credits.heldBy(alice, holder), 120_000);
        assertEq(credits.totalHeld(), 120_000);
        assertEq(credits.totalSupply(), c, "held credits still exist");

        vm.expectEmit(address(credits));
        emit ServiceCredits.CreditsSpent(alice, holder, UPTIME, 7, 30_000);
        vm.expectEmit(address(credits));
        emit ServiceCredits.CreditsSpent(alice, holder, UPTIME, 0, 10_000);
        vm.prank(holder);
        uint256 burned = credits.spendHeld(alice, UPTIME, _two(7, 0), _two(30_000, 10_000));
        assertEq(burned, 40_000);
        assertEq(credits.heldBy(alice, holder), 80_000);
        assertEq(credits.totalHeld(), 80_000);
        assertEq(credits.totalSupply(), c - 40_000);
        assertEq(credits.spentOnDevice(7), 30_000);
        assertEq(credits.spentOnDevice(0), 0, "unattributed spends are not booked to device 0");
        assertEq(credits.spentOnNetwork(UPTIME), 40_000);
        assertEq(credits.spendAllowance(alice, holder), 0, "held credits need no spend allowance");

        vm.expectEmit(address(credits));
        emit ServiceCredits.CreditsReleased(alice, holder, 80_000);
        vm.prank(holder);
        credits.releaseHeld(alice, 80_000);
        assertEq(credits.balanceOf(alice), c - 40_000, "released credits go back to their owner");
        assertEq(credits.heldBy(alice, holder), 0);
        assertEq(credits.totalHeld(), 0);
        assertEq(credits.totalSupply(), credits.balanceOf(alice));
    }

    function test_HoldersAreIsolated() public {
        _mintAs(alice, 1 ether);
        vm.prank(holder);
        credits.hold(alice, 100);
        vm.prank(holder2);
        credits.hold(alice, 50);
        assertEq(credits.totalHeld(), 150);
        // holder2 cannot give back or burn what holder holds
        vm.startPrank(holder2);
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.InsufficientHeld.selector, alice, holder2, 50, 51));
        credits.releaseHeld(alice, 51);
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.InsufficientHeld.selector, alice, holder2, 50, 100));
        credits.spendHeld(alice, UPTIME, _one(1), _one(100));
        vm.stopPrank();
        // nor is a hold of alice's credits anything bob can have
        vm.prank(holder);
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.InsufficientHeld.selector, bob, holder, 0, 100));
        credits.releaseHeld(bob, 100);
    }

    function test_RevertWhen_HoldOrReleaseInvalid() public {
        uint256 c = _mintAs(alice, 1 ether);
        vm.startPrank(holder);
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.ZeroAmount.selector, "amount"));
        credits.hold(alice, 0);
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.InsufficientCredits.selector, alice, c, c + 1));
        credits.hold(alice, c + 1);
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.ZeroAmount.selector, "amount"));
        credits.releaseHeld(alice, 0);
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.InsufficientHeld.selector, alice, holder, 0, 1));
        credits.releaseHeld(alice, 1);
        vm.stopPrank();
    }

    function test_RevertWhen_SpendHeldInvalid() public {
        _mintAs(alice, 1 ether);
        vm.startPrank(holder);
        credits.hold(alice, 1000);
        vm.expectRevert(ServiceCredits.ZeroNetwork.selector);
        credits.spendHeld(alice, bytes32(0), _one(1), _one(1));
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.LengthMismatch.selector, 2, 1));
        credits.spendHeld(alice, UPTIME, _two(1, 2), _one(1));
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.ZeroAmount.selector, "amount"));
        credits.spendHeld(alice, UPTIME, _two(1, 2), _two(5, 0));
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.ZeroAmount.selector, "amounts"));
        credits.spendHeld(alice, UPTIME, new uint256[](0), new uint256[](0));
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.InsufficientHeld.selector, alice, holder, 1000, 1001));
        credits.spendHeld(alice, UPTIME, _two(1, 2), _two(1000, 1));
        vm.stopPrank();
    }

    function testFuzz_RevertWhen_EscrowFunctionsByNonEscrow(address caller) public {
        vm.assume(caller != holder && caller != holder2 && caller != address(escrow));
        _mintAs(alice, 1 ether);
        bytes32 role = credits.ESCROW_ROLE();
        bytes memory err = abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, role);
        vm.startPrank(caller);
        vm.expectRevert(err);
        credits.hold(alice, 1);
        vm.expectRevert(err);
        credits.releaseHeld(alice, 1);
        vm.expectRevert(err);
        credits.spendHeld(alice, UPTIME, _one(1), _one(1));
        vm.stopPrank();
    }

    /// Whatever is held, burned and released: supply = balance + held, and the account's credits
    /// (spendable plus held) only ever fall, by exactly what was burned.
    function testFuzz_HeldAccounting(uint256 tokens, uint256 held, uint256 burned, uint256 released) public {
        tokens = bound(tokens, 1 ether, 1000 ether);
        uint256 c = _mintAs(alice, tokens);
        held = bound(held, 1, c);
        burned = bound(burned, 0, held);
        released = bound(released, 0, held - burned);
        vm.startPrank(holder);
        credits.hold(alice, held);
        if (burned > 0) credits.spendHeld(alice, STORAGE, _one(9), _one(burned));
        if (released > 0) credits.releaseHeld(alice, released);
        vm.stopPrank();
        assertEq(credits.totalSupply(), credits.balanceOf(alice) + credits.totalHeld());
        assertEq(credits.balanceOf(alice) + credits.heldBy(alice, holder), c - burned);
        assertEq(credits.heldBy(alice, holder), held - burned - released);
        assertEq(credits.spentOnDevice(9), burned);
    }

    function test_RevertWhen_ApproveZeroSpender() public {
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.ZeroAddress.selector, "spender"));
        credits.approveSpender(address(0), 1);
    }

    function test_SetPriceFeedByTimelock() public {
        SettablePriceFeed other = new SettablePriceFeed(address(this), 18, "x", 3e18);
        vm.prank(address(timelock));
        credits.setPriceFeed(IAggregatorV3(address(other)), 60);
        assertEq(address(credits.priceFeed()), address(other));
        assertEq(credits.maxPriceAge(), 60);
        assertEq(credits.priceFeedDecimals(), 18);
        assertEq(credits.quoteCredits(1 ether), 300_000, "18-decimal feed is scaled correctly");
        vm.startPrank(address(timelock));
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.ZeroAddress.selector, "feed"));
        credits.setPriceFeed(IAggregatorV3(address(0)), 60);
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.InvalidMaxPriceAge.selector, 0));
        credits.setPriceFeed(IAggregatorV3(address(other)), 0);
        vm.stopPrank();
    }

    function testFuzz_RevertWhen_ParametersByNonTimelock(address caller) public {
        vm.assume(caller != address(timelock));
        bytes memory err = abi.encodeWithSelector(
            IAccessControl.AccessControlUnauthorizedAccount.selector, caller, credits.DEFAULT_ADMIN_ROLE()
        );
        vm.startPrank(caller);
        vm.expectRevert(err);
        credits.setPriceFeed(IAggregatorV3(address(feed)), 1);
        vm.expectRevert(err);
        credits.setBreaker(1, 1);
        vm.stopPrank();
    }

    function test_RevertWhen_ConstructorZeroes() public {
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.ZeroAddress.selector, "token"));
        new ServiceCredits(GroundworkToken(address(0)), alice, IAggregatorV3(address(feed)), 1, 1, 1);
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.ZeroAddress.selector, "admin"));
        new ServiceCredits(token, address(0), IAggregatorV3(address(feed)), 1, 1, 1);
    }

    function test_NoTransferFunction() public view {
        // Credits are not an ERC-20: these selectors must not exist on the contract.
        (bool ok,) = address(credits).staticcall(abi.encodeWithSignature("transfer(address,uint256)", bob, 1));
        assertFalse(ok);
        (ok,) = address(credits).staticcall(
            abi.encodeWithSignature("transferFrom(address,address,uint256)", alice, bob, 1)
        );
        assertFalse(ok);
        assertEq(credits.decimals(), 0);
    }
}
