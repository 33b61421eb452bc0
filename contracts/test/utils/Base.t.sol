// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {GroundworkToken} from "../../src/token/GroundworkToken.sol";
import {Emissions} from "../../src/emissions/Emissions.sol";
import {ServiceCredits} from "../../src/credits/ServiceCredits.sol";
import {SettablePriceFeed} from "../../src/credits/SettablePriceFeed.sol";
import {IAggregatorV3} from "../../src/interfaces/IAggregatorV3.sol";
import {DeviceRegistry} from "../../src/registry/DeviceRegistry.sol";
import {RewardDistributor} from "../../src/rewards/RewardDistributor.sol";
import {CreditEscrow} from "../../src/credits/CreditEscrow.sol";
import {SlashOrders} from "../../src/registry/SlashOrders.sol";
import {StorageDeals} from "../../src/storage/StorageDeals.sol";
import {IOracleSet} from "../../src/interfaces/IOracleSet.sol";
import {GroundworkGovernor} from "../../src/governance/GroundworkGovernor.sol";
import {TestMerkle, TestDeviceKeys} from "./TestLib.sol";

/// @dev Deploys the whole system the way the TypeScript deploy module does, with every admin role
/// held by the timelock, and offers helpers for device keys, oracle signatures and Merkle trees.
abstract contract Base is Test {
    uint256 internal constant P256_N = TestDeviceKeys.P256_N;
    bytes32 internal constant UPTIME = keccak256("uptime");
    bytes32 internal constant STORAGE = keccak256("storage");

    uint256 internal constant CAP = 1_000_000_000 ether;
    uint256 internal constant EPOCH = 1 days;
    uint256 internal constant INITIAL_EMISSION = 100_000 ether;
    uint256 internal constant GENESIS = 100_000_000 ether;
    int256 internal constant PRICE = 2e8; // $2.00 with 8 decimals
    uint256 internal constant MAX_PRICE_AGE = 10 minutes;
    uint256 internal constant BREAKER_LIMIT = 1e12; // credits per window ($10M)
    uint256 internal constant BREAKER_WINDOW = 1 days;
    uint256 internal constant ONBOARDING_FEE = 4_000_000; // Helium: $40
    uint256 internal constant LOCATION_FEE = 1_000_000; // Helium: $10
    uint256 internal constant MIN_STAKE = 100 ether;
    uint256 internal constant UNSTAKE_DELAY = 7 days;
    uint64 internal constant CHALLENGE_WINDOW = 1 hours;
    uint64 internal constant SETTLEMENT_GRACE = 1 days;
    uint64 internal constant SLASH_WINDOW = 1 days; // shorter than UNSTAKE_DELAY, as it must be
    /// @dev 1e-18 credits per byte-second: Filecoin Warm Storage's 2.50 USDFC/TiB/month at
    /// $0.00001 a credit is 250,000 credits / (2^40 B × 2,592,000 s) ≈ 87,720.
    uint256 internal constant STORAGE_PRICE = 87_720;

    GroundworkToken internal token;
    Emissions internal emissions;
    SettablePriceFeed internal feed;
    ServiceCredits internal credits;
    DeviceRegistry internal registry;
    RewardDistributor internal distributor;
    TimelockController internal timelock;
    GroundworkGovernor internal governor;
    CreditEscrow internal escrow;
    SlashOrders internal slashOrders;
    StorageDeals internal deals;

    address internal treasury = makeAddr("treasury");
    address internal guardian = makeAddr("guardian");
    address internal slasher = makeAddr("slasher");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    uint256[] internal oracleKeys;
    address[] internal oracleAddrs;
    uint256 internal genesisTime;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        genesisTime = block.timestamp;

        timelock = new TimelockController(2 days, new address[](0), new address[](1), address(this));

        uint64 nonce = vm.getNonce(address(this));
        address emissionsAt = vm.computeCreateAddress(address(this), nonce + 1);
        token = new GroundworkToken("Groundwork", "GWK", CAP, emissionsAt);
        address[] memory to = new address[](1);
        uint256[] memory amounts = new uint256[](1);
        to[0] = treasury;
        amounts[0] = GENESIS;
        emissions = new Emissions(
            token,
            address(timelock),
            Emissions.Schedule({
                genesisTime: genesisTime,
                epochDuration: EPOCH,
                initialEpochEmission: INITIAL_EMISSION,
                decayPeriodEpochs: 365,
                decayNumerator: 1,
                decayDenominator: 2
            }),
            to,
            amounts
        );
        assertEq(address(emissions), emissionsAt, "predicted emissions address");

        feed = new SettablePriceFeed(address(this), 8, "GWK / USD", PRICE);
        credits = new ServiceCredits(
            token, address(timelock), IAggregatorV3(address(feed)), MAX_PRICE_AGE, BREAKER_LIMIT, BREAKER_WINDOW
        );
        registry = new DeviceRegistry(
            token,
            credits,
            emissions,
            address(timelock),
            DeviceRegistry.Config(ONBOARDING_FEE, LOCATION_FEE, MIN_STAKE, UNSTAKE_DELAY)
        );
        for (uint256 i = 1; i <= 3; ++i) {
            oracleKeys.push(0xA11CE000 + i);
        }
        _sortOracleKeys();
        distributor =
            new RewardDistributor(token, emissions, address(timelock), guardian, oracleAddrs, 2, CHALLENGE_WINDOW);
        governor = new GroundworkGovernor(token, timelock, 1 days, 1 weeks, 0, 4);
        // Deployed last, so the addresses of everything above stay what they were before them.
        escrow = new CreditEscrow(
            credits, emissions, IOracleSet(address(distributor)), address(timelock), SETTLEMENT_GRACE
        );
        slashOrders =
            new SlashOrders(registry, IOracleSet(address(distributor)), address(timelock), guardian, SLASH_WINDOW);
        deals = new StorageDeals(
            credits, emissions, IOracleSet(address(distributor)), address(timelock), SETTLEMENT_GRACE
        );

        timelock.grantRole(timelock.PROPOSER_ROLE(), address(governor));
        timelock.grantRole(timelock.CANCELLER_ROLE(), address(governor));
        timelock.renounceRole(timelock.DEFAULT_ADMIN_ROLE(), address(this));

        vm.startPrank(address(timelock));
        emissions.setNetworkWeight(UPTIME, 3);
        emissions.setNetworkWeight(STORAGE, 1);
        emissions.setRewardsPool(address(distributor));
        credits.grantRole(credits.SPENDER_ROLE(), address(registry));
        registry.grantRole(registry.SLASHER_ROLE(), slasher);
        credits.grantRole(credits.ESCROW_ROLE(), address(escrow));
        registry.grantRole(registry.SLASHER_ROLE(), address(slashOrders));
        credits.grantRole(credits.ESCROW_ROLE(), address(deals));
        deals.setPrice(STORAGE, STORAGE_PRICE);
        vm.stopPrank();

        vm.label(address(token), "token");
        vm.label(address(emissions), "emissions");
        vm.label(address(credits), "credits");
        vm.label(address(registry), "registry");
        vm.label(address(distributor), "distributor");
        vm.label(address(timelock), "timelock");
        vm.label(address(escrow), "escrow");
        vm.label(address(slashOrders), "slashOrders");
        vm.label(address(deals), "deals");
    }

    function _sortOracleKeys() private {
        // Insertion sort by address, so signatures come out in the order postRoot requires.
        uint256 n = oracleKeys.length;
        for (uint256 i = 1; i < n; ++i) {
            uint256 k = oracleKeys[i];
            uint256 j = i;
            while (j > 0 && vm.addr(oracleKeys[j - 1]) > vm.addr(k)) {
                oracleKeys[j] = oracleKeys[j - 1];
                --j;
            }
            oracleKeys[j] = k;
        }
        for (uint256 i; i < n; ++i) {
            oracleAddrs.push(vm.addr(oracleKeys[i]));
        }
    }

    // ------------------------------------------------------------------ token and credits

    function _fund(address who, uint256 amount) internal {
        vm.prank(treasury);
        token.transfer(who, amount);
    }

    /// @dev Gives `who` at least `creditAmount` credits, bought at the feed price.
    function _buyCredits(address who, uint256 creditAmount) internal {
        feed.setPrice(PRICE);
        uint256 tokens = credits.quoteTokens(creditAmount);
        _fund(who, tokens);
        vm.startPrank(who);
        token.approve(address(credits), tokens);
        credits.mint(who, tokens, creditAmount);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ devices

    function _deviceKey(uint256 pk) internal pure returns (bytes32 x, bytes32 y) {
        return TestDeviceKeys.publicKey(pk);
    }

    /// @dev The device's low-s P-256 signature over sha256(registration digest).
    function _signRegistration(uint256 pk, address owner, bytes32 network, uint256 nonce)
        internal
        view
        returns (bytes32 r, bytes32 s)
    {
        return TestDeviceKeys.signRegistration(registry, pk, owner, network, nonce);
    }

    /// @dev Funds `owner` and registers device key `pk` on `network` with the minimum stake.
    function _register(uint256 pk, address owner, bytes32 network, uint64 location) internal returns (uint256 id) {
        _fund(owner, MIN_STAKE);
        _buyCredits(owner, ONBOARDING_FEE + (location == 0 ? 0 : LOCATION_FEE));
        (bytes32 x, bytes32 y) = _deviceKey(pk);
        (bytes32 r, bytes32 s) = _signRegistration(pk, owner, network, registry.nonces(registry.deviceIdOf(x, y)));
        vm.startPrank(owner);
        token.approve(address(registry), MIN_STAKE);
        credits.approveSpender(address(registry), type(uint256).max);
        id = registry.register(network, x, y, location, MIN_STAKE, r, s);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ rewards

    /// @dev Each key's 65-byte signature over `digest`, concatenated in the order given.
    function _signDigest(uint256[] memory keys, bytes32 digest) internal pure returns (bytes memory sigs) {
        for (uint256 i; i < keys.length; ++i) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(keys[i], digest);
            sigs = bytes.concat(sigs, r, s, bytes1(v));
        }
    }

    function _signRoot(uint256[] memory keys, uint64 epoch, bytes32 root, uint256 total, bytes32 artifact)
        internal
        view
        returns (bytes memory sigs)
    {
        bytes32 digest = distributor.rootDigest(epoch, root, total, artifact);
        for (uint256 i; i < keys.length; ++i) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(keys[i], digest);
            sigs = bytes.concat(sigs, r, s, bytes1(v));
        }
    }

    /// @dev The first `m` oracle keys (already in address order).
    function _quorumKeys(uint256 m) internal view returns (uint256[] memory keys) {
        keys = new uint256[](m);
        for (uint256 i; i < m; ++i) {
            keys[i] = oracleKeys[i];
        }
    }

    /// @dev Releases every ended epoch up to `epoch` that is not released yet.
    // ------------------------------------------------------------------ escrow and slashing

    /// @dev `keys`' signatures over escrow settlement `seq` of `jobId`, as the escrow stores it.
    function _signSettlement(
        uint256[] memory keys,
        bytes32 jobId,
        uint64 seq,
        uint256[] memory deviceIds,
        uint256[] memory amounts,
        bool isFinal
    ) internal view returns (bytes memory) {
        CreditEscrow.Job memory j = escrow.job(jobId);
        return _signDigest(
            keys, escrow.settlementDigest(jobId, j.consumer, j.network, seq, deviceIds, amounts, isFinal)
        );
    }

    /// @dev Settles `jobId` with a 2-of-3 quorum.
    function _settle(bytes32 jobId, uint64 seq, uint256[] memory deviceIds, uint256[] memory amounts, bool isFinal)
        internal
    {
        bytes memory sigs = _signSettlement(_quorumKeys(2), jobId, seq, deviceIds, amounts, isFinal);
        escrow.settle(jobId, seq, deviceIds, amounts, isFinal, sigs);
    }

    /// @dev A 2-of-3 quorum's signatures over settlement `seq` of storage deal `dealId`.
    function _signDealSettlement(
        bytes32 dealId,
        uint64 seq,
        uint256[] memory deviceIds,
        uint256[] memory amounts,
        bool isFinal
    ) internal view returns (bytes memory) {
        StorageDeals.Deal memory d = deals.deal(dealId);
        return _signDigest(
            _quorumKeys(2), deals.settlementDigest(dealId, d.consumer, d.network, seq, deviceIds, amounts, isFinal)
        );
    }

    /// @dev Settles storage deal `dealId` with a 2-of-3 quorum.
    function _settleDeal(bytes32 dealId, uint64 seq, uint256[] memory deviceIds, uint256[] memory amounts, bool isFinal)
        internal
    {
        bytes memory sigs = _signDealSettlement(dealId, seq, deviceIds, amounts, isFinal);
        deals.settle(dealId, seq, deviceIds, amounts, isFinal, sigs);
    }

    function _signSlash(
        uint256[] memory keys,
        uint64 epoch,
        uint256 deviceId,
        uint256 amount,
        bytes32 evidence,
        bytes32 artifact
    ) internal view returns (bytes memory) {
        return _signDigest(keys, slashOrders.orderDigest(epoch, deviceId, amount, evidence, artifact));
    }

    /// @dev Proposes a slash order with a 2-of-3 quorum.
    function _proposeSlash(uint64 epoch, uint256 deviceId, uint256 amount, bytes32 evidence, bytes32 artifact)
        internal
        returns (bytes32)
    {
        bytes memory sigs = _signSlash(_quorumKeys(2), epoch, deviceId, amount, evidence, artifact);
        return slashOrders.propose(epoch, deviceId, amount, evidence, artifact, sigs);
    }

    function _one(uint256 x) internal pure returns (uint256[] memory a) {
        a = new uint256[](1);
        a[0] = x;
    }

    function _two(uint256 x, uint256 y) internal pure returns (uint256[] memory a) {
        a = new uint256[](2);
        a[0] = x;
        a[1] = y;
    }

    function _releaseThrough(uint256 epoch) internal {
        for (uint256 e; e <= epoch; ++e) {
            if (!emissions.released(e)) emissions.release(e);
        }
    }

    /// @dev Warps past `epoch`, releases emissions and posts `root` with a 2-of-3 quorum.
    function _postRoot(uint64 epoch, bytes32 root, uint256 total) internal {
        uint256 endOf = genesisTime + (uint256(epoch) + 1) * EPOCH;
        if (block.timestamp < endOf) vm.warp(endOf);
        _releaseThrough(epoch);
        bytes32 artifact = keccak256(abi.encode("artifact", epoch));
        distributor.postRoot(epoch, root, total, artifact, _signRoot(_quorumKeys(2), epoch, root, total, artifact));
    }

    function _leaf(address account, uint256 amount) internal pure returns (bytes32) {
        return TestMerkle.leaf(account, amount);
    }

    function _hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return TestMerkle.hashPair(a, b);
    }

    function _root(bytes32[] memory leaves) internal pure returns (bytes32) {
        return TestMerkle.root(leaves);
    }

    function _proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory) {
        return TestMerkle.proof(leaves, index);
    }
}
