// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {Base} from "../utils/Base.t.sol";
import {ServiceCredits} from "../../src/credits/ServiceCredits.sol";
import {SettablePriceFeed} from "../../src/credits/SettablePriceFeed.sol";
import {IAggregatorV3} from "../../src/interfaces/IAggregatorV3.sol";
import {DeviceRegistry} from "../../src/registry/DeviceRegistry.sol";
import {RewardDistributor} from "../../src/rewards/RewardDistributor.sol";
import {CreditEscrow} from "../../src/credits/CreditEscrow.sol";
import {SlashOrders} from "../../src/registry/SlashOrders.sol";
import {Emissions} from "../../src/emissions/Emissions.sol";
import {GroundworkToken} from "../../src/token/GroundworkToken.sol";
import {TestDeviceKeys} from "../utils/TestLib.sol";

/// @dev Random actors mint, approve, spend and register devices, and anyone tries every
/// governance setter.
contract SystemHandler is Test {
    bytes32 internal constant UPTIME = keccak256("uptime");

    ServiceCredits internal immutable credits;
    DeviceRegistry internal immutable registry;
    RewardDistributor internal immutable distributor;
    Emissions internal immutable emissions;
    GroundworkToken internal immutable token;
    SettablePriceFeed internal immutable feed;
    address internal immutable treasury;
    address internal immutable spender;
    address internal immutable timelock;
    CreditEscrow internal escrow;
    SlashOrders internal slashOrders;

    address[] public actors;
    mapping(address => uint256) public mintedTo;
    mapping(address => uint256) public spentFrom;
    uint256[] public registered;
    mapping(uint256 deviceId => uint256 pk) public keyOf;
    uint256 public foreignRegistrations; // a device registered with a signature from another key
    uint256 public parameterChangesByOthers; // a setter call by a non-timelock that succeeded
    uint256 public registrations;

    constructor(
        ServiceCredits c,
        DeviceRegistry r,
        RewardDistributor d,
        Emissions e,
        GroundworkToken t,
        SettablePriceFeed f,
        address treasury_,
        address spender_,
        address timelock_
    ) {
        credits = c;
        registry = r;
        distributor = d;
        emissions = e;
        token = t;
        feed = f;
        treasury = treasury_;
        spender = spender_;
        timelock = timelock_;
        for (uint256 i; i < 5; ++i) {
            actors.push(makeAddr(string.concat("actor", vm.toString(i))));
        }
    }

    /// The market contracts, whose setters are tried too (set once, after construction).
    function setMarket(CreditEscrow e, SlashOrders o) external {
        escrow = e;
        slashOrders = o;
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    function mint(uint256 payerSeed, uint256 toSeed, uint256 tokens) external {
        address payer = _actor(payerSeed);
        address to = _actor(toSeed);
        tokens = bound(tokens, 1 ether, 1000 ether);
        feed.setPrice(2e8);
        vm.prank(treasury);
        token.transfer(payer, tokens);
        vm.startPrank(payer);
        token.approve(address(credits), tokens);
        uint256 got = credits.mint(to, tokens, 0);
        vm.stopPrank();
        mintedTo[to] += got;
    }

    function approve(uint256 who, uint256 amount) external {
        vm.prank(_actor(who));
        credits.approveSpender(spender, bound(amount, 0, 1e9));
    }

    function spend(uint256 who, uint256 amount, uint256 deviceId) external {
        address account = _actor(who);
        amount = bound(amount, 1, 1e9);
        vm.prank(spender);
        try credits.spend(account, amount, UPTIME, deviceId) {
            spentFrom[account] += amount;
        } catch {}
    }

    /// Someone not a spender tries to burn or move another account's credits.
    function spendAsStranger(uint256 who, uint256 from, uint256 amount) external {
        address stranger = _actor(who);
        vm.prank(stranger);
        try credits.spend(_actor(from), bound(amount, 1, 1e9), UPTIME, 0) {
            spentFrom[_actor(from)] += type(uint128).max; // makes the invariant fail loudly
        } catch {}
    }

    /// Registers a device whose key is `devicePk`, signed by `signingPk` (the same key, or not).
    function register(uint256 ownerSeed, uint256 devicePk, uint256 signingPk, bool honest) external {
        devicePk = bound(devicePk, 1, TestDeviceKeys.P256_N - 1);
        signingPk = honest ? devicePk : bound(signingPk, 1, TestDeviceKeys.P256_N - 1);
        address owner = _actor(ownerSeed);
        (bytes32 px, bytes32 py) = TestDeviceKeys.publicKey(devicePk);
        uint256 id = registry.deviceIdOf(px, py);
        (bytes32 r, bytes32 s) =
            TestDeviceKeys.signRegistration(registry, signingPk, owner, UPTIME, registry.nonces(id));
        vm.prank(treasury);
        token.transfer(owner, 100 ether);
        feed.setPrice(2e8);
        uint256 fee = registry.onboardingFee();
        uint256 tokens = credits.quoteTokens(fee);
        vm.prank(treasury);
        token.transfer(owner, tokens);
        vm.startPrank(owner);
        token.approve(address(credits), tokens);
        mintedTo[owner] += credits.mint(owner, tokens, fee);
        token.approve(address(registry), 100 ether);
        credits.approveSpender(address(registry), fee);
        try registry.register(UPTIME, px, py, 0, 100 ether, r, s) returns (uint256 got) {
            registrations++;
            registered.push(got);
            keyOf[got] = devicePk;
            spentFrom[owner] += fee;
            if (signingPk != devicePk) foreignRegistrations++;
        } catch {}
        vm.stopPrank();
    }

    /// Anyone but the timelock calls every parameter setter; none may succeed.
    function setParameter(uint256 who, uint256 which, uint256 value) external {
        address caller = _actor(who);
        vm.startPrank(caller);
        bool ok;
        uint256 w = which % 13;
        if (w == 0) (ok,) = address(emissions).call(abi.encodeCall(Emissions.setNetworkWeight, (UPTIME, value)));
        if (w == 1) (ok,) = address(emissions).call(abi.encodeCall(Emissions.setRewardsPool, (caller)));
        if (w == 2) (ok,) = address(registry).call(abi.encodeCall(DeviceRegistry.setFees, (value, value)));
        if (w == 3) (ok,) = address(registry).call(abi.encodeCall(DeviceRegistry.setStakeRules, (value, 1)));
        if (w == 4) {
            (ok,) = address(credits).call(abi.encodeCall(ServiceCredits.setPriceFeed, (IAggregatorV3(caller), 1)));
        }
        if (w == 5) (ok,) = address(credits).call(abi.encodeCall(ServiceCredits.setBreaker, (value % 1e9 + 1, 1)));
        if (w == 6) {
            address[] memory set = new address[](1);
            set[0] = caller;
            (ok,) = address(distributor).call(abi.encodeCall(RewardDistributor.setOracles, (set, 1)));
        }
        if (w == 7) (ok,) = address(distributor).call(abi.encodeCall(RewardDistributor.setChallengeWindow, (1)));
        if (w == 8) {
            (ok,) = address(credits).call(
                abi.encodeWithSignature("grantRole(bytes32,address)", credits.SPENDER_ROLE(), caller)
            );
        }
        if (w == 9) (ok,) = address(escrow).call(abi.encodeCall(CreditEscrow.setSettlementGrace, (1)));
        if (w == 10) (ok,) = address(slashOrders).call(abi.encodeCall(SlashOrders.setChallengeWindow, (1)));
        if (w == 11) {
            (ok,) = address(credits).call(
                abi.encodeWithSignature("grantRole(bytes32,address)", credits.ESCROW_ROLE(), caller)
            );
        }
        if (w == 12) {
            (ok,) = address(slashOrders).call(
                abi.encodeWithSignature("grantRole(bytes32,address)", slashOrders.GUARDIAN_ROLE(), caller)
            );
        }
        vm.stopPrank();
        if (ok) parameterChangesByOthers++;
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function registeredCount() external view returns (uint256) {
        return registered.length;
    }
}

contract SystemInvariantTest is Base {
    SystemHandler internal handler;
    address internal spender = makeAddr("spender");

    bytes32 internal feeHash;

    function setUp() public override {
        super.setUp();
        bytes32 role = credits.SPENDER_ROLE();
        vm.prank(address(timelock));
        credits.grantRole(role, spender);
        handler = new SystemHandler(
            credits, registry, distributor, emissions, token, feed, treasury, spender, address(timelock)
        );
        handler.setMarket(escrow, slashOrders);
        feed.transferOwnership(address(handler));
        targetContract(address(handler));
        targetSelector(_handlerSelectors());
        feeHash = _parameters();
    }

    /// Every handler action but the one-time setup call.
    function _handlerSelectors() internal view returns (FuzzSelector memory) {
        bytes4[] memory selectors = new bytes4[](6);
        selectors[0] = SystemHandler.mint.selector;
        selectors[1] = SystemHandler.approve.selector;
        selectors[2] = SystemHandler.spend.selector;
        selectors[3] = SystemHandler.spendAsStranger.selector;
        selectors[4] = SystemHandler.register.selector;
        selectors[5] = SystemHandler.setParameter.selector;
        return FuzzSelector({addr: address(handler), selectors: selectors});
    }

    function _parameters() internal view returns (bytes32) {
        (bytes32[] memory ids, uint256[] memory weights) = emissions.networks();
        (uint256 limit, uint256 window) = credits.breakerConfig();
        bytes memory a = abi.encode(ids, weights, emissions.rewardsPool(), limit, window);
        bytes memory b = abi.encode(
            registry.onboardingFee(), registry.locationFee(), registry.minStake(), registry.unstakeDelay()
        );
        bytes memory c = abi.encode(
            address(credits.priceFeed()),
            credits.maxPriceAge(),
            distributor.oracles(),
            distributor.quorum(),
            distributor.challengeWindow()
        );
        bytes memory m = abi.encode(escrow.settlementGrace(), slashOrders.challengeWindow());
        return keccak256(bytes.concat(a, b, c, m));
    }

    /// The handler's honest path must really register (or the invariants below prove nothing),
    /// and its dishonest path must really be refused.
    function test_HandlerRegistersHonestAndNotForeign() public {
        handler.register(1, 42, 0, true);
        assertEq(handler.registrations(), 1);
        handler.register(2, 43, 44, false);
        assertEq(handler.registrations(), 1);
        assertEq(handler.foreignRegistrations(), 0);
    }

    /// Credits never change hands: every balance is what was minted to it minus what was spent from it.
    function invariant_CreditsNeverChangeHands() public view {
        uint256 sum;
        for (uint256 i; i < handler.actorCount(); ++i) {
            address a = handler.actors(i);
            assertEq(credits.balanceOf(a), handler.mintedTo(a) - handler.spentFrom(a), "credits moved");
            sum += credits.balanceOf(a);
        }
        assertEq(credits.totalSupply(), sum, "supply != sum of balances");
    }

    /// Only the device key can register its device.
    function invariant_OnlyDeviceKeyRegisters() public view {
        assertEq(handler.foreignRegistrations(), 0, "a device was registered without its key");
        for (uint256 i; i < handler.registeredCount(); ++i) {
            uint256 id = handler.registered(i);
            (uint256 px, uint256 py) = vm.publicKeyP256(handler.keyOf(id));
            DeviceRegistry.Device memory d = registry.device(id);
            assertEq(d.keyX, bytes32(px));
            assertEq(d.keyY, bytes32(py));
        }
    }

    /// Only the timelock changes parameters.
    function invariant_OnlyTimelockChangesParameters() public view {
        assertEq(handler.parameterChangesByOthers(), 0, "a setter succeeded for a non-timelock caller");
        assertEq(_parameters(), feeHash, "a parameter changed");
    }
}
