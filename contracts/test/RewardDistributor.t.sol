// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {RewardDistributor} from "../src/rewards/RewardDistributor.sol";
import {Emissions} from "../src/emissions/Emissions.sol";
import {Base} from "./utils/Base.t.sol";

contract RewardDistributorTest is Base {
    address internal carol = makeAddr("carol");
    bytes32[] internal leaves;
    address[] internal accounts;
    uint256[] internal amounts;

    function _tree(uint256 a, uint256 b, uint256 c) internal returns (bytes32 root, uint256 total) {
        delete leaves;
        delete accounts;
        delete amounts;
        accounts.push(alice);
        accounts.push(bob);
        accounts.push(carol);
        amounts.push(a);
        amounts.push(b);
        amounts.push(c);
        for (uint256 i; i < 3; ++i) {
            leaves.push(_leaf(accounts[i], amounts[i]));
        }
        return (_root(leaves), a + b + c);
    }

    function _activate() internal {
        vm.warp(block.timestamp + CHALLENGE_WINDOW);
    }

    // ------------------------------------------------------------------ posting

    function test_PostRootWithQuorum() public {
        (bytes32 root, uint256 total) = _tree(10 ether, 20 ether, 30 ether);
        vm.warp(genesisTime + EPOCH);
        emissions.release(0);
        bytes32 artifact = keccak256("artifact-0");
        bytes memory sigs = _signRoot(_quorumKeys(2), 0, root, total, artifact);
        vm.expectEmit(address(distributor));
        emit RewardDistributor.RootPosted(0, root, total, artifact, block.timestamp + CHALLENGE_WINDOW);
        distributor.postRoot(0, root, total, artifact, sigs);
        RewardDistributor.Root memory latest = distributor.latestRoot();
        assertEq(latest.root, root);
        assertEq(latest.total, total);
        assertEq(latest.epoch, 0);
        assertEq(distributor.claimableRoot().root, bytes32(0), "still in its challenge window");
        _activate();
        assertEq(distributor.claimableRoot().root, root);
    }

    function test_PostRootWithAllThreeSignatures() public {
        (bytes32 root, uint256 total) = _tree(1, 2, 3);
        vm.warp(genesisTime + EPOCH);
        emissions.release(0);
        distributor.postRoot(0, root, total, bytes32(0), _signRoot(oracleKeys, 0, root, total, bytes32(0)));
        assertEq(distributor.latestRoot().root, root);
    }

    function test_RevertWhen_QuorumNotMet() public {
        (bytes32 root, uint256 total) = _tree(1, 2, 3);
        vm.warp(genesisTime + EPOCH);
        emissions.release(0);
        bytes memory one = _signRoot(_quorumKeys(1), 0, root, total, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.QuorumNotMet.selector, 1, 2));
        distributor.postRoot(0, root, total, bytes32(0), one);
    }

    function test_RevertWhen_SignerNotOracle() public {
        (bytes32 root, uint256 total) = _tree(1, 2, 3);
        vm.warp(genesisTime + EPOCH);
        emissions.release(0);
        uint256[] memory keys = new uint256[](2);
        keys[0] = oracleKeys[0];
        keys[1] = 0xBEEF;
        bytes memory sigs = _signRoot(keys, 0, root, total, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.NotOracle.selector, vm.addr(0xBEEF), 1));
        distributor.postRoot(0, root, total, bytes32(0), sigs);
    }

    function test_RevertWhen_DuplicateOrUnsortedSigners() public {
        (bytes32 root, uint256 total) = _tree(1, 2, 3);
        vm.warp(genesisTime + EPOCH);
        emissions.release(0);
        uint256[] memory keys = new uint256[](2);
        keys[0] = oracleKeys[0];
        keys[1] = oracleKeys[0];
        bytes memory sigs = _signRoot(keys, 0, root, total, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.SignersNotSorted.selector, 1));
        distributor.postRoot(0, root, total, bytes32(0), sigs);
        keys[0] = oracleKeys[1];
        keys[1] = oracleKeys[0];
        sigs = _signRoot(keys, 0, root, total, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.SignersNotSorted.selector, 1));
        distributor.postRoot(0, root, total, bytes32(0), sigs);
    }

    function test_RevertWhen_SignatureForOtherValues() public {
        (bytes32 root, uint256 total) = _tree(1, 2, 3);
        vm.warp(genesisTime + EPOCH);
        emissions.release(0);
        bytes memory sigs = _signRoot(_quorumKeys(2), 0, root, total, bytes32(0));
        // Same signatures, a larger total: they recover to other (non-oracle) addresses.
        vm.expectRevert();
        distributor.postRoot(0, root, total + 1, bytes32(0), sigs);
        vm.expectRevert();
        distributor.postRoot(0, root, total, keccak256("other artifact"), sigs);
    }

    function test_RevertWhen_MalformedSignatures() public {
        (bytes32 root, uint256 total) = _tree(1, 2, 3);
        vm.warp(genesisTime + EPOCH);
        emissions.release(0);
        bytes memory sigs = _signRoot(_quorumKeys(2), 0, root, total, bytes32(0));
        bytes memory truncated = new bytes(129);
        for (uint256 i; i < 129; ++i) {
            truncated[i] = sigs[i];
        }
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.SignatureLength.selector, 129));
        distributor.postRoot(0, root, total, bytes32(0), truncated);
        bytes memory garbage = new bytes(130);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.InvalidSignature.selector, 0));
        distributor.postRoot(0, root, total, bytes32(0), garbage);
    }

    function test_RevertWhen_ReplayedRootSignatures() public {
        (bytes32 root, uint256 total) = _tree(1, 2, 3);
        _postRoot(0, root, total);
        bytes32 artifact = keccak256(abi.encode("artifact", uint64(0)));
        bytes memory sigs = _signRoot(_quorumKeys(2), 0, root, total, artifact);
        _activate();
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.EpochNotAfterLatest.selector, 0, 0));
        distributor.postRoot(0, root, total, artifact, sigs);
    }

    function test_RevertWhen_LatestStillInWindow() public {
        vm.prank(address(timelock));
        distributor.setChallengeWindow(uint64(3 * EPOCH));
        (bytes32 root, uint256 total) = _tree(1, 2, 3);
        _postRoot(0, root, total);
        uint256 activeAt = block.timestamp + 3 * EPOCH;
        vm.warp(genesisTime + 2 * EPOCH);
        emissions.release(1);
        (bytes32 root2, uint256 total2) = _tree(2, 2, 3);
        bytes memory sigs = _signRoot(_quorumKeys(2), 1, root2, total2, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.LatestRootInChallenge.selector, 0, activeAt));
        distributor.postRoot(1, root2, total2, bytes32(0), sigs);
    }

    function test_RevertWhen_EpochNotEndedOrTotalAboveReleased() public {
        (bytes32 root, uint256 total) = _tree(1, 2, 3);
        bytes memory sigs = _signRoot(_quorumKeys(2), 0, root, total, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.EpochNotEnded.selector, 0, 0));
        distributor.postRoot(0, root, total, bytes32(0), sigs);
        vm.warp(genesisTime + EPOCH);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.TotalExceedsReleased.selector, total, 0));
        distributor.postRoot(0, root, total, bytes32(0), sigs);
        emissions.release(0);
        (bytes32 big, uint256 bigTotal) = _tree(INITIAL_EMISSION, 1, 0);
        sigs = _signRoot(_quorumKeys(2), 0, big, bigTotal, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.TotalExceedsReleased.selector, bigTotal, INITIAL_EMISSION));
        distributor.postRoot(0, big, bigTotal, bytes32(0), sigs);
    }

    function test_RevertWhen_TotalDecreasesOrRootZero() public {
        (bytes32 root, uint256 total) = _tree(5, 5, 5);
        _postRoot(0, root, total);
        _activate();
        vm.warp(genesisTime + 2 * EPOCH);
        emissions.release(1);
        (bytes32 root2, uint256 total2) = _tree(5, 5, 4);
        bytes memory sigs = _signRoot(_quorumKeys(2), 1, root2, total2, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.TotalDecreased.selector, total2, total));
        distributor.postRoot(1, root2, total2, bytes32(0), sigs);
        vm.expectRevert(RewardDistributor.ZeroRoot.selector);
        distributor.postRoot(1, bytes32(0), total, bytes32(0), sigs);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.TotalTooLarge.selector, uint256(type(uint128).max) + 1));
        distributor.postRoot(1, root2, uint256(type(uint128).max) + 1, bytes32(0), sigs);
    }

    // ------------------------------------------------------------------ revocation

    function test_GuardianRevokesPendingRoot() public {
        (bytes32 root1, uint256 total1) = _tree(1 ether, 1 ether, 1 ether);
        _postRoot(0, root1, total1);
        _activate();
        (bytes32 bad, uint256 badTotal) = _tree(2 ether, 1 ether, 1 ether);
        _postRoot(1, bad, badTotal);
        assertEq(distributor.claimableRoot().root, root1, "previous root stays claimable during the window");
        vm.expectEmit(address(distributor));
        emit RewardDistributor.RootRevoked(1, bad, guardian);
        vm.prank(guardian);
        distributor.revokeRoot();
        assertEq(distributor.latestRoot().root, root1);
        assertTrue(distributor.revoked(keccak256(abi.encode(uint64(1), bad))));
        // the revoked signatures can never be posted again
        bytes32 artifact = keccak256(abi.encode("artifact", uint64(1)));
        bytes memory sigs = _signRoot(_quorumKeys(2), 1, bad, badTotal, artifact);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.RootWasRevoked.selector, 1, bad));
        distributor.postRoot(1, bad, badTotal, artifact, sigs);
        // but a corrected root for the same epoch can
        (bytes32 good, uint256 goodTotal) = _tree(1 ether, 2 ether, 1 ether);
        _postRoot(1, good, goodTotal);
        assertEq(distributor.latestRoot().root, good);
    }

    function test_TimelockCanRevokeToo() public {
        (bytes32 root, uint256 total) = _tree(1, 2, 3);
        _postRoot(0, root, total);
        vm.prank(address(timelock));
        distributor.revokeRoot();
        assertEq(distributor.latestRoot().root, bytes32(0));
    }

    function test_RevertWhen_RevokeAfterWindowOrByOthers() public {
        vm.prank(guardian);
        vm.expectRevert(RewardDistributor.NoPendingRoot.selector);
        distributor.revokeRoot();
        (bytes32 root, uint256 total) = _tree(1, 2, 3);
        _postRoot(0, root, total);
        bytes32 role = distributor.GUARDIAN_ROLE();
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, role));
        distributor.revokeRoot();
        _activate();
        vm.prank(guardian);
        vm.expectRevert(RewardDistributor.NoPendingRoot.selector);
        distributor.revokeRoot();
    }

    // ------------------------------------------------------------------ claims

    function test_ClaimPaysDifferenceToAccount() public {
        (bytes32 root, uint256 total) = _tree(10 ether, 20 ether, 30 ether);
        _postRoot(0, root, total);
        _activate();
        vm.expectEmit(address(distributor));
        emit RewardDistributor.Claimed(alice, carol, 10 ether, 10 ether, root);
        vm.prank(carol); // anyone may claim for alice; alice is paid
        uint256 paid = distributor.claim(alice, 10 ether, root, _proof(leaves, 0));
        assertEq(paid, 10 ether);
        assertEq(token.balanceOf(alice), 10 ether);
        assertEq(token.balanceOf(carol), 0);
        assertEq(distributor.claimed(alice), 10 ether);
        assertEq(distributor.totalClaimed(), 10 ether);

        // next epoch: alice's cumulative grows to 25; she is paid 15
        (bytes32 root2, uint256 total2) = _tree(25 ether, 20 ether, 30 ether);
        _postRoot(1, root2, total2);
        _activate();
        paid = distributor.claim(alice, 25 ether, root2, _proof(leaves, 0));
        assertEq(paid, 15 ether);
        assertEq(token.balanceOf(alice), 25 ether);
    }

    function test_RevertWhen_ClaimTwice() public {
        (bytes32 root, uint256 total) = _tree(10 ether, 20 ether, 30 ether);
        _postRoot(0, root, total);
        _activate();
        bytes32[] memory proof = _proof(leaves, 0);
        distributor.claim(alice, 10 ether, root, proof);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.NothingToClaim.selector, alice, 10 ether, 10 ether));
        distributor.claim(alice, 10 ether, root, proof);
    }

    function test_RevertWhen_OverClaim() public {
        (bytes32 root, uint256 total) = _tree(10 ether, 20 ether, 30 ether);
        _postRoot(0, root, total);
        _activate();
        bytes32[] memory proof = _proof(leaves, 0);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.InvalidProof.selector, alice, 11 ether));
        distributor.claim(alice, 11 ether, root, proof);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.InvalidProof.selector, bob, 10 ether));
        distributor.claim(bob, 10 ether, root, proof);
    }

    function test_RevertWhen_WrongRoot() public {
        (bytes32 root, uint256 total) = _tree(10 ether, 20 ether, 30 ether);
        _postRoot(0, root, total);
        bytes32[] memory proof = _proof(leaves, 0);
        vm.expectRevert(RewardDistributor.NoClaimableRoot.selector);
        distributor.claim(alice, 10 ether, root, proof);
        _activate();
        (bytes32 root2, uint256 total2) = _tree(15 ether, 20 ether, 30 ether);
        _postRoot(1, root2, total2);
        // root2 is in its window: a claim naming it fails, the old root still pays
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.RootMismatch.selector, root2, root));
        distributor.claim(alice, 15 ether, root2, _proof(leaves, 0));
        _activate();
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.RootMismatch.selector, root, root2));
        distributor.claim(alice, 10 ether, root, proof);
    }

    function test_RevertWhen_ClaimForZeroAddress() public {
        (bytes32 root, uint256 total) = _tree(1, 2, 3);
        _postRoot(0, root, total);
        _activate();
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.ZeroAddress.selector, "account"));
        distributor.claim(address(0), 1, root, new bytes32[](0));
    }

    function test_RevertWhen_ClaimsWouldExceedRootTotal() public {
        // A faulty tree whose leaves sum to more than its stated total cannot pay beyond the total.
        delete leaves;
        leaves.push(_leaf(alice, 10 ether));
        leaves.push(_leaf(bob, 10 ether));
        bytes32 root = _root(leaves);
        _postRoot(0, root, 15 ether);
        _activate();
        distributor.claim(alice, 10 ether, root, _proof(leaves, 0));
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.ClaimExceedsRootTotal.selector, 20 ether, 15 ether));
        distributor.claim(bob, 10 ether, root, _proof(leaves, 1));
    }

    function test_ClaimManySkipsClaimedAccounts() public {
        (bytes32 root, uint256 total) = _tree(10 ether, 20 ether, 30 ether);
        _postRoot(0, root, total);
        _activate();
        distributor.claim(bob, 20 ether, root, _proof(leaves, 1));
        RewardDistributor.Claim[] memory batch = new RewardDistributor.Claim[](3);
        for (uint256 i; i < 3; ++i) {
            batch[i] = RewardDistributor.Claim(accounts[i], amounts[i], _proof(leaves, i));
        }
        uint256 paid = distributor.claimMany(batch, root);
        assertEq(paid, 40 ether);
        assertEq(token.balanceOf(alice), 10 ether);
        assertEq(token.balanceOf(bob), 20 ether);
        assertEq(token.balanceOf(carol), 30 ether);
        assertEq(distributor.totalClaimed(), 60 ether);
        batch[0].cumulativeAmount = 99 ether;
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.InvalidProof.selector, alice, 99 ether));
        distributor.claimMany(batch, root);
    }

    function testFuzz_ClaimCumulative(uint96 a1, uint96 a2) public {
        uint256 first = bound(a1, 1, INITIAL_EMISSION / 4);
        uint256 second = first + bound(a2, 0, INITIAL_EMISSION / 4);
        (bytes32 root, uint256 total) = _tree(first, 1, 1);
        _postRoot(0, root, total);
        _activate();
        distributor.claim(alice, first, root, _proof(leaves, 0));
        (bytes32 root2, uint256 total2) = _tree(second, 1, 1);
        _postRoot(1, root2, total2);
        _activate();
        if (second == first) {
            vm.expectRevert(abi.encodeWithSelector(RewardDistributor.NothingToClaim.selector, alice, first, first));
        }
        distributor.claim(alice, second, root2, _proof(leaves, 0));
        assertEq(token.balanceOf(alice), second);
    }

    // ------------------------------------------------------------------ governance

    function test_SetOracles() public {
        address[] memory set = new address[](2);
        set[0] = alice;
        set[1] = bob;
        vm.prank(address(timelock));
        distributor.setOracles(set, 1);
        assertEq(distributor.quorum(), 1);
        assertTrue(distributor.isOracle(alice));
        assertFalse(distributor.isOracle(oracleAddrs[0]), "old oracles removed");
        assertEq(distributor.oracles().length, 2);
    }

    function test_RevertWhen_OracleSetInvalid() public {
        address[] memory set = new address[](2);
        set[0] = alice;
        set[1] = alice;
        vm.startPrank(address(timelock));
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.InvalidOracleSet.selector, "duplicate oracle"));
        distributor.setOracles(set, 1);
        set[1] = address(0);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.InvalidOracleSet.selector, "zero address"));
        distributor.setOracles(set, 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                RewardDistributor.InvalidOracleSet.selector, "quorum must be between 1 and the number of oracles"
            )
        );
        distributor.setOracles(set, 3);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.InvalidOracleSet.selector, "needs 1 to 16 oracles"));
        distributor.setOracles(new address[](0), 1);
        vm.expectRevert(
            abi.encodeWithSelector(RewardDistributor.ChallengeWindowTooLong.selector, 31 days, 30 days)
        );
        distributor.setChallengeWindow(31 days);
        vm.stopPrank();
    }

    function test_RevertWhen_TooManyOracles() public {
        address[] memory set = new address[](17);
        for (uint256 i; i < 17; ++i) {
            set[i] = address(uint160(i + 1));
        }
        vm.prank(address(timelock));
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.InvalidOracleSet.selector, "needs 1 to 16 oracles"));
        distributor.setOracles(set, 1);
    }

    function test_RevertWhen_ClaimManyBeforeAnyRoot() public {
        vm.expectRevert(RewardDistributor.NoClaimableRoot.selector);
        distributor.claimMany(new RewardDistributor.Claim[](0), bytes32(0));
    }

    function test_ChallengeWindowChangeAppliesToNextRoot() public {
        vm.prank(address(timelock));
        distributor.setChallengeWindow(0);
        (bytes32 root, uint256 total) = _tree(1, 2, 3);
        _postRoot(0, root, total);
        assertEq(distributor.claimableRoot().root, root, "claimable at once with no window");
    }

    function testFuzz_RevertWhen_ParametersByNonTimelock(address caller) public {
        vm.assume(caller != address(timelock));
        bytes memory err = abi.encodeWithSelector(
            IAccessControl.AccessControlUnauthorizedAccount.selector, caller, distributor.DEFAULT_ADMIN_ROLE()
        );
        vm.startPrank(caller);
        vm.expectRevert(err);
        distributor.setOracles(oracleAddrs, 1);
        vm.expectRevert(err);
        distributor.setChallengeWindow(1);
        vm.stopPrank();
    }

    function test_RevertWhen_ConstructorZeroes() public {
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.ZeroAddress.selector, "token"));
        new RewardDistributor(IERC20(address(0)), emissions, alice, alice, oracleAddrs, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.ZeroAddress.selector, "emissions"));
        new RewardDistributor(token, Emissions(address(0)), alice, alice, oracleAddrs, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.ZeroAddress.selector, "admin"));
        new RewardDistributor(token, emissions, address(0), alice, oracleAddrs, 1, 0);
    }
}
