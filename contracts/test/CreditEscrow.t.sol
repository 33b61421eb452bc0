// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Vm} from "forge-std/Vm.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {CreditEscrow} from "../src/credits/CreditEscrow.sol";
import {ServiceCredits} from "../src/credits/ServiceCredits.sol";
import {Emissions} from "../src/emissions/Emissions.sol";
import {IOracleSet} from "../src/interfaces/IOracleSet.sol";
import {OracleQuorum} from "../src/utils/OracleQuorum.sol";
import {Base} from "./utils/Base.t.sol";

contract CreditEscrowTest is Base {
    bytes32 internal constant JOB = keccak256("job-1");
    uint256 internal constant MAX = 1_000_000; // $10
    uint256 internal constant DEV_A = 0xA;
    uint256 internal constant DEV_B = 0xB;

    uint256 internal deadline;

    function setUp() public override {
        super.setUp();
        deadline = block.timestamp + 1 days;
    }

    function _open(address who, bytes32 jobId, uint256 maxCredits) internal {
        _buyCredits(who, maxCredits);
        vm.prank(who);
        escrow.open(UPTIME, jobId, maxCredits, uint64(deadline));
    }

    function _assertConserved(bytes32 jobId) internal view {
        CreditEscrow.Job memory j = escrow.job(jobId);
        assertEq(j.escrowed, uint256(j.burned) + j.refunded + escrow.heldFor(jobId), "escrowed = burned + refunded + held");
        assertEq(credits.totalSupply(), credits.balanceOf(alice) + credits.balanceOf(bob) + credits.totalHeld());
    }

    // ------------------------------------------------------------------ open

    function test_OpenEscrowsMaxCredits() public {
        _buyCredits(alice, MAX);
        uint256 balance = credits.balanceOf(alice);
        vm.expectEmit(address(escrow));
        emit CreditEscrow.JobOpened(JOB, alice, UPTIME, MAX, deadline);
        vm.expectEmit(address(credits));
        emit ServiceCredits.CreditsHeld(alice, address(escrow), MAX);
        vm.prank(alice);
        escrow.open(UPTIME, JOB, MAX, uint64(deadline));

        CreditEscrow.Job memory j = escrow.job(JOB);
        assertEq(j.consumer, alice);
        assertEq(j.network, UPTIME);
        assertEq(j.deadline, deadline);
        assertEq(uint8(j.status), uint8(CreditEscrow.Status.Open));
        assertEq(j.escrowed, MAX);
        assertEq(j.burned, 0);
        assertEq(j.refunded, 0);
        assertEq(j.seq, 0);
        assertEq(escrow.heldFor(JOB), MAX);
        assertEq(escrow.reclaimableAt(JOB), deadline + SETTLEMENT_GRACE);
        assertEq(credits.balanceOf(alice), balance - MAX);
        assertEq(credits.heldBy(alice, address(escrow)), MAX);
        assertEq(credits.totalHeld(), MAX);
        assertEq(credits.totalSupply(), balance, "escrow burns nothing");
        _assertConserved(JOB);
    }

    function test_RevertWhen_OpenInvalid() public {
        _buyCredits(alice, MAX);
        vm.startPrank(alice);
        vm.expectRevert(CreditEscrow.ZeroJobId.selector);
        escrow.open(UPTIME, bytes32(0), MAX, uint64(deadline));
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.ZeroAmount.selector, "maxCredits"));
        escrow.open(UPTIME, JOB, 0, uint64(deadline));
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.DeadlineInPast.selector, block.timestamp, block.timestamp));
        escrow.open(UPTIME, JOB, MAX, uint64(block.timestamp));
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.DeadlineInPast.selector, 5, block.timestamp));
        escrow.open(UPTIME, JOB, MAX, 5);
        bytes32 unknown = keccak256("no-such-network");
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.UnknownNetwork.selector, unknown));
        escrow.open(unknown, JOB, MAX, uint64(deadline));
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.UnknownNetwork.selector, bytes32(0)));
        escrow.open(bytes32(0), JOB, MAX, uint64(deadline));
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.InsufficientCredits.selector, alice, MAX, MAX + 1));
        escrow.open(UPTIME, JOB, MAX + 1, uint64(deadline));
        vm.stopPrank();
        assertEq(uint8(escrow.job(JOB).status), uint8(CreditEscrow.Status.None), "nothing was written");
        assertEq(credits.totalHeld(), 0);
    }

    function test_RevertWhen_JobIdTaken() public {
        _open(alice, JOB, MAX);
        _buyCredits(bob, MAX);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.JobExists.selector, JOB));
        escrow.open(UPTIME, JOB, MAX, uint64(deadline));
        // closed jobs keep their id forever
        _settle(JOB, 1, new uint256[](0), new uint256[](0), true);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.JobExists.selector, JOB));
        escrow.open(UPTIME, JOB, 1, uint64(deadline));
    }

    function test_OpenOnAnyNetwork() public {
        _buyCredits(alice, 10);
        vm.prank(alice);
        escrow.open(STORAGE, JOB, 10, uint64(deadline));
        _settle(JOB, 1, _one(DEV_A), _one(4), true);
        assertEq(credits.spentOnNetwork(STORAGE), 4);
    }

    // ------------------------------------------------------------------ settle

    function test_SettleBurnsForDevicesThenFinalRefunds() public {
        _open(alice, JOB, MAX);
        uint256 balance = credits.balanceOf(alice);
        uint256 supply = credits.totalSupply();

        vm.expectEmit(address(escrow));
        emit CreditEscrow.JobSettled(JOB, 1, 300_000, 300_000, false);
        vm.expectEmit(address(credits));
        emit ServiceCredits.CreditsSpent(alice, address(escrow), UPTIME, DEV_A, 300_000);
        _settle(JOB, 1, _one(DEV_A), _one(300_000), false);
        assertEq(escrow.heldFor(JOB), MAX - 300_000);
        assertEq(credits.spentOnDevice(DEV_A), 300_000);
        assertEq(credits.spentOnNetwork(UPTIME), 300_000);
        assertEq(credits.totalSupply(), supply - 300_000);
        assertEq(credits.balanceOf(alice), balance, "nothing refunded before the final settlement");
        _assertConserved(JOB);

        vm.expectEmit(address(escrow));
        emit CreditEscrow.JobSettled(JOB, 2, 150_000, 450_000, true);
        vm.expectEmit(address(escrow));
        emit CreditEscrow.JobClosed(JOB, CreditEscrow.Status.Settled, 450_000, 550_000);
        vm.expectEmit(address(credits));
        emit ServiceCredits.CreditsSpent(alice, address(escrow), UPTIME, DEV_A, 100_000);
        vm.expectEmit(address(credits));
        emit ServiceCredits.CreditsSpent(alice, address(escrow), UPTIME, DEV_B, 50_000);
        vm.expectEmit(address(credits));
        emit ServiceCredits.CreditsReleased(alice, address(escrow), 550_000);
        _settle(JOB, 2, _two(DEV_A, DEV_B), _two(100_000, 50_000), true);

        CreditEscrow.Job memory j = escrow.job(JOB);
        assertEq(uint8(j.status), uint8(CreditEscrow.Status.Settled));
        assertEq(j.burned, 450_000);
        assertEq(j.refunded, 550_000);
        assertEq(j.seq, 2);
        assertEq(escrow.heldFor(JOB), 0);
        assertEq(credits.balanceOf(alice), balance + 550_000);
        assertEq(credits.spentOnDevice(DEV_A), 400_000);
        assertEq(credits.spentOnDevice(DEV_B), 50_000);
        assertEq(credits.totalHeld(), 0);
        assertEq(credits.totalSupply(), supply - 450_000);
        _assertConserved(JOB);
    }

    function test_FinalSettlementOfEverythingRefundsNothing() public {
        _open(alice, JOB, MAX);
        uint256 balance = credits.balanceOf(alice);
        vm.recordLogs();
        _settle(JOB, 1, _one(DEV_A), _one(MAX), true);
        assertEq(credits.balanceOf(alice), balance);
        assertEq(escrow.job(JOB).refunded, 0);
        assertEq(uint8(escrow.job(JOB).status), uint8(CreditEscrow.Status.Settled));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 3, "JobSettled, JobClosed, CreditsSpent");
        for (uint256 i; i < logs.length; ++i) {
            assertNotEq(logs[i].topics[0], ServiceCredits.CreditsReleased.selector, "no release of zero");
        }
    }

    function test_EmptyFinalSettlementRefundsAll() public {
        _open(alice, JOB, MAX);
        uint256 balance = credits.balanceOf(alice);
        _settle(JOB, 1, new uint256[](0), new uint256[](0), true);
        assertEq(credits.balanceOf(alice), balance + MAX);
        assertEq(escrow.job(JOB).burned, 0);
        assertEq(escrow.job(JOB).refunded, MAX);
        _assertConserved(JOB);
    }

    function test_AnyoneMayRelayASettlement() public {
        _open(alice, JOB, MAX);
        bytes memory sigs = _signSettlement(_quorumKeys(2), JOB, 1, _one(DEV_A), _one(5), false);
        vm.prank(makeAddr("relayer"));
        escrow.settle(JOB, 1, _one(DEV_A), _one(5), false, sigs);
        assertEq(escrow.job(JOB).burned, 5);
    }

    function test_SettleAfterDeadlineUntilReclaimed() public {
        _open(alice, JOB, MAX);
        vm.warp(deadline + SETTLEMENT_GRACE + 1 days);
        _settle(JOB, 1, _one(DEV_A), _one(5), false);
        assertEq(escrow.job(JOB).burned, 5);
    }

    function test_RevertWhen_SettlementReplayedOrOutOfOrder() public {
        _open(alice, JOB, MAX);
        bytes memory sigs1 = _signSettlement(_quorumKeys(2), JOB, 1, _one(DEV_A), _one(10), false);
        bytes memory sigs3 = _signSettlement(_quorumKeys(2), JOB, 3, _one(DEV_A), _one(10), false);
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.UnexpectedSequence.selector, JOB, 3, 1));
        escrow.settle(JOB, 3, _one(DEV_A), _one(10), false, sigs3);
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.UnexpectedSequence.selector, JOB, 0, 1));
        escrow.settle(JOB, 0, _one(DEV_A), _one(10), false, sigs1);
        escrow.settle(JOB, 1, _one(DEV_A), _one(10), false, sigs1);
        // the same settlement again, by anyone: never paid twice
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.UnexpectedSequence.selector, JOB, 1, 2));
        escrow.settle(JOB, 1, _one(DEV_A), _one(10), false, sigs1);
        assertEq(escrow.job(JOB).burned, 10);
        assertEq(credits.spentOnDevice(DEV_A), 10);
    }

    function test_RevertWhen_SettlementMalformed() public {
        _open(alice, JOB, MAX);
        bytes memory none;
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.LengthMismatch.selector, 2, 1));
        escrow.settle(JOB, 1, _two(DEV_A, DEV_B), _one(1), false, none);
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.EmptySettlement.selector, JOB));
        escrow.settle(JOB, 1, new uint256[](0), new uint256[](0), false, none);

        bytes memory sigs = _signSettlement(_quorumKeys(2), JOB, 1, _two(DEV_A, DEV_B), _two(1, 0), false);
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.ZeroAmount.selector, "amounts"));
        escrow.settle(JOB, 1, _two(DEV_A, DEV_B), _two(1, 0), false, sigs);

        sigs = _signSettlement(_quorumKeys(2), JOB, 1, _two(DEV_A, DEV_B), _two(MAX, 1), false);
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.SettlementExceedsHeld.selector, JOB, MAX + 1, MAX));
        escrow.settle(JOB, 1, _two(DEV_A, DEV_B), _two(MAX, 1), false, sigs);
    }

    function test_RevertWhen_SettlementExceedsWhatIsLeft() public {
        _open(alice, JOB, MAX);
        _settle(JOB, 1, _one(DEV_A), _one(MAX - 10), false);
        bytes memory sigs = _signSettlement(_quorumKeys(2), JOB, 2, _one(DEV_A), _one(11), true);
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.SettlementExceedsHeld.selector, JOB, 11, 10));
        escrow.settle(JOB, 2, _one(DEV_A), _one(11), true, sigs);
    }

    function test_RevertWhen_SettlementOfUnknownOrClosedJob() public {
        bytes memory none;
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.UnknownJob.selector, JOB));
        escrow.settle(JOB, 1, _one(DEV_A), _one(1), false, none);
        _open(alice, JOB, MAX);
        _settle(JOB, 1, _one(DEV_A), _one(1), true);
        vm.expectRevert(
            abi.encodeWithSelector(CreditEscrow.JobNotActive.selector, JOB, CreditEscrow.Status.Settled)
        );
        escrow.settle(JOB, 2, _one(DEV_A), _one(1), false, none);
    }

    function test_RevertWhen_QuorumNotMetOrBadSignatures() public {
        _open(alice, JOB, MAX);
        uint256[] memory ids = _one(DEV_A);
        uint256[] memory amounts = _one(7);
        bytes32 digest = escrow.settlementDigest(JOB, alice, UPTIME, 1, ids, amounts, false);

        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.QuorumNotMet.selector, 1, 2));
        escrow.settle(JOB, 1, ids, amounts, false, _signDigest(_quorumKeys(1), digest));

        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.SignatureLength.selector, 64));
        escrow.settle(JOB, 1, ids, amounts, false, new bytes(64));

        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.InvalidSignature.selector, 0));
        escrow.settle(JOB, 1, ids, amounts, false, new bytes(130));

        uint256[] memory swapped = new uint256[](2);
        swapped[0] = oracleKeys[1];
        swapped[1] = oracleKeys[0];
        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.SignersNotSorted.selector, 1));
        escrow.settle(JOB, 1, ids, amounts, false, _signDigest(swapped, digest));

        uint256[] memory twice = new uint256[](2);
        twice[0] = oracleKeys[0];
        twice[1] = oracleKeys[0];
        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.SignersNotSorted.selector, 1));
        escrow.settle(JOB, 1, ids, amounts, false, _signDigest(twice, digest));

        uint256 stranger = 0xBAD;
        uint256[] memory withStranger = new uint256[](2);
        withStranger[0] = oracleKeys[0];
        withStranger[1] = stranger;
        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.NotOracle.selector, vm.addr(stranger), 1));
        escrow.settle(JOB, 1, ids, amounts, false, _signDigest(withStranger, digest));
    }

    /// A quorum's signature is for one job, one consumer, one sequence number, these amounts.
    function test_RevertWhen_SignatureIsForOtherFields() public {
        _open(alice, JOB, MAX);
        bytes32 other = keccak256("job-2");
        _buyCredits(bob, MAX);
        vm.prank(bob);
        escrow.open(UPTIME, other, MAX, uint64(deadline));

        bytes memory sigs = _signSettlement(_quorumKeys(2), JOB, 1, _one(DEV_A), _one(7), false);
        vm.expectRevert(); // recovers to some non-oracle address
        escrow.settle(other, 1, _one(DEV_A), _one(7), false, sigs);
        vm.expectRevert();
        escrow.settle(JOB, 1, _one(DEV_A), _one(8), false, sigs);
        vm.expectRevert();
        escrow.settle(JOB, 1, _one(DEV_B), _one(7), false, sigs);
        vm.expectRevert();
        escrow.settle(JOB, 1, _one(DEV_A), _one(7), true, sigs);
        escrow.settle(JOB, 1, _one(DEV_A), _one(7), false, sigs);
    }

    /// One oracle set for the system: rotating the distributor's set rotates the escrow's.
    function test_OracleRotationAppliesToSettlements() public {
        _open(alice, JOB, MAX);
        address[] memory next = new address[](1);
        uint256 newKey = 0xC0FFEE;
        next[0] = vm.addr(newKey);
        vm.prank(address(timelock));
        distributor.setOracles(next, 1);

        bytes memory old = _signSettlement(_quorumKeys(2), JOB, 1, _one(DEV_A), _one(7), false);
        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.NotOracle.selector, oracleAddrs[0], 0));
        escrow.settle(JOB, 1, _one(DEV_A), _one(7), false, old);

        uint256[] memory keys = _one(newKey);
        escrow.settle(JOB, 1, _one(DEV_A), _one(7), false, _signSettlement(keys, JOB, 1, _one(DEV_A), _one(7), false));
        assertEq(escrow.job(JOB).burned, 7);
    }

    // ------------------------------------------------------------------ cancel and reclaim

    function test_CancelThenFinalSettlementPaysVerifiedWorkAndRefunds() public {
        _open(alice, JOB, MAX);
        _settle(JOB, 1, _one(DEV_A), _one(100), false);
        vm.warp(block.timestamp + 1 hours);
        vm.expectEmit(address(escrow));
        emit CreditEscrow.JobCancelled(JOB, block.timestamp + SETTLEMENT_GRACE);
        vm.prank(alice);
        escrow.cancel(JOB);
        CreditEscrow.Job memory j = escrow.job(JOB);
        assertEq(uint8(j.status), uint8(CreditEscrow.Status.Cancelled));
        assertEq(j.cancelledAt, block.timestamp);
        assertEq(escrow.reclaimableAt(JOB), block.timestamp + SETTLEMENT_GRACE, "the cancel came before the deadline");
        assertEq(escrow.heldFor(JOB), MAX - 100, "a cancel moves no credits");

        uint256 balance = credits.balanceOf(alice);
        _settle(JOB, 2, _one(DEV_A), _one(50), true);
        assertEq(credits.balanceOf(alice), balance + MAX - 150);
        assertEq(uint8(escrow.job(JOB).status), uint8(CreditEscrow.Status.Settled));
        _assertConserved(JOB);
    }

    function test_CancelAfterDeadlineKeepsDeadlineGrace() public {
        _open(alice, JOB, MAX);
        vm.warp(deadline + 10);
        vm.prank(alice);
        escrow.cancel(JOB);
        assertEq(escrow.reclaimableAt(JOB), deadline + SETTLEMENT_GRACE);
    }

    function test_RevertWhen_CancelInvalid() public {
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.UnknownJob.selector, JOB));
        escrow.cancel(JOB);
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.UnknownJob.selector, JOB));
        escrow.reclaimableAt(JOB);
        _open(alice, JOB, MAX);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.NotConsumer.selector, JOB, bob, alice));
        escrow.cancel(JOB);
        vm.startPrank(alice);
        escrow.cancel(JOB);
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.JobAlreadyCancelled.selector, JOB));
        escrow.cancel(JOB);
        vm.stopPrank();
        _settle(JOB, 1, new uint256[](0), new uint256[](0), true);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(CreditEscrow.JobNotActive.selector, JOB, CreditEscrow.Status.Settled)
        );
        escrow.cancel(JOB);
    }

    function test_ReclaimAfterDeadlineAndGrace() public {
        _open(alice, JOB, MAX);
        _settle(JOB, 1, _one(DEV_A), _one(250), false);
        uint256 balance = credits.balanceOf(alice);
        uint256 at = deadline + SETTLEMENT_GRACE;
        vm.warp(at - 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.ReclaimTooEarly.selector, JOB, at, at - 1));
        escrow.reclaim(JOB);
        vm.warp(at);
        vm.expectEmit(address(escrow));
        emit CreditEscrow.JobClosed(JOB, CreditEscrow.Status.Reclaimed, 250, MAX - 250);
        vm.expectEmit(address(credits));
        emit ServiceCredits.CreditsReleased(alice, address(escrow), MAX - 250);
        vm.prank(alice);
        escrow.reclaim(JOB);
        assertEq(credits.balanceOf(alice), balance + MAX - 250);
        assertEq(uint8(escrow.job(JOB).status), uint8(CreditEscrow.Status.Reclaimed));
        assertEq(credits.totalHeld(), 0);
        _assertConserved(JOB);

        // a late settlement cannot touch a reclaimed job; nor can a second reclaim
        bytes memory sigs = _signSettlement(_quorumKeys(2), JOB, 2, _one(DEV_A), _one(1), true);
        vm.expectRevert(
            abi.encodeWithSelector(CreditEscrow.JobNotActive.selector, JOB, CreditEscrow.Status.Reclaimed)
        );
        escrow.settle(JOB, 2, _one(DEV_A), _one(1), true, sigs);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(CreditEscrow.JobNotActive.selector, JOB, CreditEscrow.Status.Reclaimed)
        );
        escrow.reclaim(JOB);
    }

    function test_ReclaimAfterCancelAndGrace() public {
        _open(alice, JOB, MAX);
        vm.prank(alice);
        escrow.cancel(JOB);
        uint256 at = block.timestamp + SETTLEMENT_GRACE;
        assertLt(at, deadline + SETTLEMENT_GRACE);
        vm.warp(at);
        uint256 balance = credits.balanceOf(alice);
        vm.prank(alice);
        escrow.reclaim(JOB);
        assertEq(credits.balanceOf(alice), balance + MAX);
    }

    function test_ReclaimOfFullyBurnedJobClosesIt() public {
        _open(alice, JOB, MAX);
        _settle(JOB, 1, _one(DEV_A), _one(MAX), false);
        vm.warp(deadline + SETTLEMENT_GRACE);
        vm.recordLogs();
        vm.prank(alice);
        escrow.reclaim(JOB);
        assertEq(vm.getRecordedLogs().length, 1, "JobClosed only: nothing to release");
        assertEq(uint8(escrow.job(JOB).status), uint8(CreditEscrow.Status.Reclaimed));
    }

    function test_RevertWhen_ReclaimByOtherOrUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.UnknownJob.selector, JOB));
        escrow.reclaim(JOB);
        _open(alice, JOB, MAX);
        vm.warp(deadline + SETTLEMENT_GRACE);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.NotConsumer.selector, JOB, bob, alice));
        escrow.reclaim(JOB);
    }

    /// Two jobs of one consumer are held apart: settling one never touches the other's credits.
    function test_JobsOfOneConsumerAreSeparate() public {
        bytes32 job2 = keccak256("job-2");
        _open(alice, JOB, MAX);
        _open(alice, job2, 500);
        assertEq(credits.heldBy(alice, address(escrow)), MAX + 500);
        bytes memory sigs = _signSettlement(_quorumKeys(2), job2, 1, _one(DEV_A), _one(501), false);
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.SettlementExceedsHeld.selector, job2, 501, 500));
        escrow.settle(job2, 1, _one(DEV_A), _one(501), false, sigs);
        _settle(job2, 1, _one(DEV_A), _one(200), true);
        assertEq(escrow.heldFor(JOB), MAX);
        assertEq(credits.heldBy(alice, address(escrow)), MAX);
    }

    // ------------------------------------------------------------------ governance

    function test_SetSettlementGraceByTimelock() public {
        vm.expectEmit(address(escrow));
        emit CreditEscrow.SettlementGraceSet(3 days);
        vm.prank(address(timelock));
        escrow.setSettlementGrace(3 days);
        assertEq(escrow.settlementGrace(), 3 days);
        uint256 max = escrow.MAX_SETTLEMENT_GRACE();
        vm.prank(address(timelock));
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.SettlementGraceTooLong.selector, max + 1, max));
        escrow.setSettlementGrace(uint64(max + 1));
    }

    function testFuzz_RevertWhen_GraceByNonTimelock(address caller) public {
        vm.assume(caller != address(timelock));
        bytes32 role = escrow.DEFAULT_ADMIN_ROLE();
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, role));
        escrow.setSettlementGrace(1);
    }

    function test_RevertWhen_ConstructorZeroes() public {
        IOracleSet set = IOracleSet(address(distributor));
        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.ZeroAddress.selector, "oracleSet"));
        new CreditEscrow(credits, emissions, IOracleSet(address(0)), alice, 1);
        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.ZeroAddress.selector, "credits"));
        new CreditEscrow(ServiceCredits(address(0)), emissions, set, alice, 1);
        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.ZeroAddress.selector, "emissions"));
        new CreditEscrow(credits, Emissions(address(0)), set, alice, 1);
        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.ZeroAddress.selector, "admin"));
        new CreditEscrow(credits, emissions, set, address(0), 1);
        vm.expectRevert(abi.encodeWithSelector(CreditEscrow.SettlementGraceTooLong.selector, 91 days, 90 days));
        new CreditEscrow(credits, emissions, set, alice, 91 days);
    }

    function test_EscrowWithoutRoleCannotHold() public {
        CreditEscrow rogue = new CreditEscrow(credits, emissions, IOracleSet(address(distributor)), alice, 1);
        _buyCredits(alice, MAX);
        bytes32 role = credits.ESCROW_ROLE();
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(rogue), role)
        );
        rogue.open(UPTIME, JOB, MAX, uint64(deadline));
    }

    // ------------------------------------------------------------------ fuzz

    /// Any sequence of settlements, in order, burns exactly what they say and the final one
    /// refunds exactly the rest; the same settlement never applies twice.
    function testFuzz_SettlementSequence(uint256 maxCredits, uint256[6] memory parts, uint8 finalAt, bool replay)
        public
    {
        maxCredits = bound(maxCredits, 1, 1e10);
        uint256 last = bound(finalAt, 0, 5);
        _open(alice, JOB, maxCredits);
        uint256 balance = credits.balanceOf(alice);
        uint256 burned;
        for (uint256 i; i <= last; ++i) {
            uint256 left = maxCredits - burned;
            bool isFinal = i == last;
            uint256 amount = left == 0 ? 0 : bound(parts[i], isFinal ? 0 : 1, left);
            if (amount == 0 && !isFinal) break;
            uint64 seq = uint64(i + 1);
            uint256[] memory ids = amount == 0 ? new uint256[](0) : _one(DEV_A + i % 2);
            uint256[] memory amounts = amount == 0 ? new uint256[](0) : _one(amount);
            bytes memory sigs = _signSettlement(_quorumKeys(2), JOB, seq, ids, amounts, isFinal);
            escrow.settle(JOB, seq, ids, amounts, isFinal, sigs);
            burned += amount;
            if (replay) {
                vm.expectRevert();
                escrow.settle(JOB, seq, ids, amounts, isFinal, sigs);
            }
            _assertConserved(JOB);
        }
        CreditEscrow.Job memory j = escrow.job(JOB);
        assertEq(j.burned, burned);
        assertEq(credits.spentOnDevice(DEV_A) + credits.spentOnDevice(DEV_B), burned);
        if (j.status == CreditEscrow.Status.Settled) {
            assertEq(j.refunded, maxCredits - burned);
            assertEq(credits.balanceOf(alice), balance + maxCredits - burned);
            assertEq(credits.totalHeld(), 0);
        } else {
            assertEq(credits.balanceOf(alice), balance);
            assertEq(credits.totalHeld(), maxCredits - burned);
        }
    }

    /// Reclaim opens exactly `settlementGrace` after the deadline or the cancel, whichever came first.
    function testFuzz_CancelAndReclaimTiming(uint256 deadlineIn, uint256 cancelIn, bool doCancel, uint256 tryAt)
        public
    {
        deadline = block.timestamp + bound(deadlineIn, 1, 365 days);
        _open(alice, JOB, MAX);
        uint256 end = deadline;
        if (doCancel) {
            vm.warp(block.timestamp + bound(cancelIn, 0, 400 days));
            vm.prank(alice);
            escrow.cancel(JOB);
            if (block.timestamp < end) end = block.timestamp;
        }
        uint256 at = end + SETTLEMENT_GRACE;
        assertEq(escrow.reclaimableAt(JOB), at);
        vm.warp(bound(tryAt, block.timestamp, (at > block.timestamp ? at : block.timestamp) + 30 days));
        uint256 balance = credits.balanceOf(alice);
        vm.prank(alice);
        if (block.timestamp < at) {
            vm.expectRevert(abi.encodeWithSelector(CreditEscrow.ReclaimTooEarly.selector, JOB, at, block.timestamp));
            escrow.reclaim(JOB);
            assertEq(credits.balanceOf(alice), balance);
        } else {
            escrow.reclaim(JOB);
            assertEq(credits.balanceOf(alice), balance + MAX);
        }
    }

    function testFuzz_OpenAmounts(uint256 bought, uint256 maxCredits) public {
        bought = bound(bought, 1, 1e11);
        maxCredits = bound(maxCredits, 1, 2e11);
        _buyCredits(alice, bought);
        uint256 balance = credits.balanceOf(alice);
        vm.prank(alice);
        if (maxCredits > balance) {
            vm.expectRevert(
                abi.encodeWithSelector(CreditEscrow.InsufficientCredits.selector, alice, balance, maxCredits)
            );
            escrow.open(UPTIME, JOB, maxCredits, uint64(deadline));
        } else {
            escrow.open(UPTIME, JOB, maxCredits, uint64(deadline));
            assertEq(credits.balanceOf(alice), balance - maxCredits);
            assertEq(escrow.heldFor(JOB), maxCredits);
        }
    }
}
