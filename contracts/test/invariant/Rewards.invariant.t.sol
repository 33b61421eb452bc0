// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {Base} from "../utils/Base.t.sol";
import {RewardDistributor} from "../../src/rewards/RewardDistributor.sol";
import {Emissions} from "../../src/emissions/Emissions.sol";
import {GroundworkToken} from "../../src/token/GroundworkToken.sol";
import {TestMerkle} from "../utils/TestLib.sol";

/// @dev Drives epochs, releases, root posts (honest and revoked), and claims (right, stale, repeated).
contract RewardsHandler is Test {
    Emissions internal immutable emissions;
    RewardDistributor internal immutable distributor;
    GroundworkToken internal immutable token;
    address internal immutable guardian;
    uint256[] internal keys;

    address[4] public accounts;
    uint256[4] public cumulative; // amounts in the latest posted tree
    uint256[4] public paid; // ghost: what each account received
    uint64 public nextEpoch;
    uint256 public scheduleOfReleased; // ghost: sum of scheduledEmission over released epochs
    bytes32 public lastRoot;
    uint256 public posts;
    uint256 public revokes;
    uint256 public claims;

    constructor(Emissions e, RewardDistributor d, GroundworkToken t, address guardian_, uint256[] memory k) {
        emissions = e;
        distributor = d;
        token = t;
        guardian = guardian_;
        keys = k;
        for (uint256 i; i < 4; ++i) {
            accounts[i] = makeAddr(string.concat("earner", vm.toString(i)));
        }
    }

    function _leaves(uint256[4] memory amounts) internal view returns (bytes32[] memory leaves) {
        leaves = new bytes32[](4);
        for (uint256 i; i < 4; ++i) {
            leaves[i] = TestMerkle.leaf(accounts[i], amounts[i]);
        }
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 1, 3 days));
    }

    function release() public {
        uint256 current = emissions.currentEpoch();
        for (uint256 e; e < current && e < 64; ++e) {
            if (!emissions.released(e)) {
                scheduleOfReleased += emissions.scheduledEmission(e);
                emissions.release(e);
            }
        }
    }

    function post(uint256[4] memory increments, uint8 revokeDice) external {
        bool revokeAfter = revokeDice % 4 == 0;
        RewardDistributor.Root memory latest = distributor.latestRoot();
        if (latest.activeAt > block.timestamp) vm.warp(latest.activeAt);
        uint64 epoch = nextEpoch;
        uint256 endOf = emissions.genesisTime() + (uint256(epoch) + 1) * emissions.epochDuration();
        if (block.timestamp < endOf) vm.warp(endOf);
        release();
        uint256 room = emissions.releasedTo(address(distributor));
        uint256[4] memory next;
        uint256 total;
        for (uint256 i; i < 4; ++i) {
            next[i] = cumulative[i] + bound(increments[i], 0, 20_000 ether);
            total += next[i];
        }
        if (total > room) return;
        bytes32[] memory leaves = _leaves(next);
        bytes32 root = TestMerkle.root(leaves);
        bytes32 artifact = keccak256(abi.encode(epoch, root));
        bytes32 digest = distributor.rootDigest(epoch, root, total, artifact);
        bytes memory sigs;
        for (uint256 i; i < 2; ++i) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(keys[i], digest);
            sigs = bytes.concat(sigs, r, s, bytes1(v));
        }
        distributor.postRoot(epoch, root, total, artifact, sigs);
        posts++;
        if (revokeAfter) {
            vm.prank(guardian);
            distributor.revokeRoot();
            revokes++;
            return;
        }
        cumulative = next;
        lastRoot = root;
        nextEpoch = epoch + 1;
    }

    function claim(uint256 who, uint256 skew) external {
        uint256 i = bound(who, 0, 3);
        RewardDistributor.Root memory claimable = distributor.claimableRoot();
        if (claimable.root == bytes32(0) || claimable.root != lastRoot) return;
        uint256 amount = cumulative[i];
        // sometimes try to claim more than the leaf says: must always fail
        bool cheat = skew % 4 == 0;
        if (cheat) amount += 1 + skew % 1000;
        bytes32[] memory proof = TestMerkle.proof(_leaves(cumulative), i);
        uint256 before = token.balanceOf(accounts[i]);
        try distributor.claim(accounts[i], amount, claimable.root, proof) returns (uint256 got) {
            assertFalse(cheat, "an inflated claim was paid");
            assertEq(token.balanceOf(accounts[i]) - before, got, "paid amount differs from the transfer");
            paid[i] += got;
            claims++;
        } catch {
            assertEq(token.balanceOf(accounts[i]), before, "a failed claim moved tokens");
        }
    }

    function claimAgain(uint256 who) external {
        uint256 i = bound(who, 0, 3);
        RewardDistributor.Root memory claimable = distributor.claimableRoot();
        if (claimable.root != lastRoot || claimable.root == bytes32(0)) return;
        if (distributor.claimed(accounts[i]) != cumulative[i]) return;
        bytes32[] memory proof = TestMerkle.proof(_leaves(cumulative), i);
        vm.expectRevert();
        distributor.claim(accounts[i], cumulative[i], claimable.root, proof);
    }
}

contract RewardsInvariantTest is Base {
    RewardsHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new RewardsHandler( emissions, distributor, token, guardian, oracleKeys);
        targetContract(address(handler));
    }

    /// The run must have exercised posting, revoking and claiming, or the invariants prove little.
    function afterInvariant() external view {
        assertGt(handler.posts(), 0, "no root posted");
    }

    /// total claimed <= total posted (the claimable root's total) <= released <= emission schedule
    function invariant_ClaimedLePostedLeSchedule() public view {
        uint256 posted = distributor.claimableRoot().total;
        assertLe(distributor.totalClaimed(), posted, "claimed > posted");
        assertLe(distributor.latestRoot().total, emissions.releasedTo(address(distributor)), "posted > released");
        assertLe(emissions.totalReleased(), handler.scheduleOfReleased(), "released > schedule");
        assertEq(token.totalSupply(), GENESIS + emissions.totalReleased(), "minted outside the emission path");
    }

    /// nobody is paid twice: each account received exactly its claimed cumulative amount
    function invariant_NoAccountPaidTwice() public view {
        uint256 sum;
        for (uint256 i; i < 4; ++i) {
            address a = handler.accounts(i);
            assertEq(token.balanceOf(a), distributor.claimed(a), "paid != claimed");
            assertEq(handler.paid(i), distributor.claimed(a), "ghost paid != claimed");
            assertLe(distributor.claimed(a), handler.cumulative(i), "claimed above its leaf");
            sum += distributor.claimed(a);
        }
        assertEq(sum, distributor.totalClaimed());
        assertEq(
            token.balanceOf(address(distributor)),
            emissions.releasedTo(address(distributor)) - distributor.totalClaimed(),
            "pool balance"
        );
    }
}
