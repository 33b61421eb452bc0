// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Emissions} from "../emissions/Emissions.sol";
import {IOracleSet} from "../interfaces/IOracleSet.sol";
import {OracleQuorum} from "../utils/OracleQuorum.sol";
import {ServiceCredits} from "./ServiceCredits.sol";

/// @title CreditEscrow
/// @notice Escrow of service credits for consumer work on any resource network: a compute job, a
/// storage deal, a coverage session. It is one contract for every network (the network is a field
/// of each job), so marketplaces share one audited path from a consumer's credits to the devices
/// that served it.
///
/// A consumer `open`s a job with the most it will pay; those credits are held in ServiceCredits
/// (they leave the consumer's balance but stay the consumer's). Verified work is paid by
/// settlements signed by an M-of-N quorum of the system's oracles (the RewardDistributor's set):
/// each burns credits attributed to the devices that did the work, which ServiceCredits records
/// with `CreditsSpent`, so usage rewards follow it as they follow any spend. Held credits can go
/// nowhere else: back to the consumer (final settlement, reclaim) or burned. So for every job,
/// escrowed = burned + refunded + held, always.
///
/// Why an oracle quorum and not a settler role: settlements burn consumers' credits and direct
/// usage rewards to devices, exactly the power a reward root has, so they need the same trust: no
/// single oracle key can move a credit, and any relayer may submit a signed settlement.
///
/// Settlements are numbered per job (1, 2, 3, ...) and apply strictly in order, each once: a
/// replayed or retried settlement is refused, never paid twice, and a settlement cannot skip one
/// the oracle signed before it. The signed message names the consumer and network, so a
/// signature for one job is worthless for any other, even one opened under the same id on
/// another deployment (the EIP-712 domain fixes chain and contract).
///
/// Protection against a silent oracle: the consumer may `reclaim` everything not yet settled once
/// `settlementGrace` seconds have passed since the job's deadline, or since its cancellation if
/// earlier. Until then a settlement can still pay the work done before the deadline or the cancel.
contract CreditEscrow is AccessControl, EIP712, OracleQuorum {
    bytes32 public constant SETTLEMENT_TYPEHASH = keccak256(
        "Settlement(bytes32 jobId,address consumer,bytes32 network,uint64 seq,uint256[] deviceIds,uint256[] amounts,bool isFinal)"
    );
    /// @notice Longest grace governance may set: a consumer's credits are never stuck longer
    /// than this past the job's end.
    uint256 public constant MAX_SETTLEMENT_GRACE = 90 days;

    /// @notice None: no such job. Open: escrowed, settling. Cancelled: the consumer stopped it;
    /// still settling. Settled: closed by a final settlement. Reclaimed: closed by the consumer.
    enum Status {
        None,
        Open,
        Cancelled,
        Settled,
        Reclaimed
    }

    /// @dev Four slots: consumer | deadline | status, network, escrowed | burned, and
    /// refunded | seq | cancelledAt (the last one is first written by a cancel or settlement, so
    /// opening writes three).
    struct Job {
        address consumer;
        uint64 deadline;
        Status status;
        bytes32 network;
        uint128 escrowed;
        uint128 burned;
        uint128 refunded;
        uint64 seq;
        uint64 cancelledAt;
    }

    ServiceCredits public immutable credits;
    /// @notice Knows the networks; a job on an unknown network is refused.
    Emissions public immutable emissions;
    /// @notice Seconds after a job's end (deadline, or cancel if earlier) before the consumer may
    /// reclaim what is unsettled. Read when the consumer reclaims.
    uint64 public settlementGrace;

    mapping(bytes32 jobId => Job) private _jobs;

    event JobOpened(
        bytes32 indexed jobId, address indexed consumer, bytes32 indexed network, uint256 maxCredits, uint256 deadline
    );
    event JobCancelled(bytes32 indexed jobId, uint256 reclaimableAt);
    /// @notice Settlement `seq` burned `credits` for the job (per device in ServiceCredits'
    /// `CreditsSpent` events of the same transaction); `burned` is the job's total so far.
    event JobSettled(bytes32 indexed jobId, uint64 seq, uint256 credits, uint256 burned, bool isFinal);
    /// @notice The job closed (`status` Settled or Reclaimed); `refunded` went back to the consumer.
    event JobClosed(bytes32 indexed jobId, Status status, uint256 burned, uint256 refunded);
    event SettlementGraceSet(uint256 settlementGrace);

    error ZeroJobId();
    error ZeroAmount(string what);
    error UnknownNetwork(bytes32 network);
    error JobExists(bytes32 jobId);
    error DeadlineInPast(uint256 deadline, uint256 nowTime);
    error InsufficientCredits(address account, uint256 balance, uint256 needed);
    error UnknownJob(bytes32 jobId);
    /// @notice The job is closed (settled or reclaimed): nothing more can happen to it.
    error JobNotActive(bytes32 jobId, Status status);
    error NotConsumer(bytes32 jobId, address caller, address consumer);
    error JobAlreadyCancelled(bytes32 jobId);
    /// @notice Settlements apply in order: this job's next one is `expected`.
    error UnexpectedSequence(bytes32 jobId, uint64 seq, uint64 expected);
    error LengthMismatch(uint256 deviceIds, uint256 amounts);
    /// @notice A settlement that is not final must pay some device.
    error EmptySettlement(bytes32 jobId);
    error SettlementExceedsHeld(bytes32 jobId, uint256 credits, uint256 held);
    error ReclaimTooEarly(bytes32 jobId, uint256 reclaimableAt, uint256 nowTime);
    error SettlementGraceTooLong(uint256 grace, uint256 max);

    /// @param credits_ The service credits (this contract needs its ESCROW_ROLE).
    /// @param emissions_ Where networks are registered.
    /// @param oracleSet_ The RewardDistributor, whose oracle set and quorum sign settlements.
    /// @param admin Holder of DEFAULT_ADMIN_ROLE (the timelock).
    /// @param settlementGrace_ See `settlementGrace`.
    constructor(
        ServiceCredits credits_,
        Emissions emissions_,
        IOracleSet oracleSet_,
        address admin,
        uint64 settlementGrace_
    ) EIP712("Groundwork CreditEscrow", "1") OracleQuorum(oracleSet_) {
        if (address(credits_) == address(0)) revert ZeroAddress("credits");
        if (address(emissions_) == address(0)) revert ZeroAddress("emissions");
        if (admin == address(0)) revert ZeroAddress("admin");
        credits = credits_;
        emissions = emissions_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setSettlementGrace(settlementGrace_);
    }

    // ------------------------------------------------------------------ views

    /// @notice Everything stored about a job (status None if there is no such job).
    function job(bytes32 jobId) external view returns (Job memory) {
        return _jobs[jobId];
    }

    /// @notice Credits still held for the job: escrowed - burned - refunded.
    function heldFor(bytes32 jobId) public view returns (uint256) {
        Job storage j = _jobs[jobId];
        return j.escrowed - j.burned - j.refunded;
    }

    /// @notice When the consumer may reclaim what is unsettled: `settlementGrace` after the
    /// deadline, or after the cancel if that came first.
    function reclaimableAt(bytes32 jobId) public view returns (uint256) {
        Job storage j = _jobs[jobId];
        if (j.status == Status.None) revert UnknownJob(jobId);
        uint256 end = j.deadline;
        if (j.cancelledAt != 0 && j.cancelledAt < end) end = j.cancelledAt;
        return end + settlementGrace;
    }

    /// @notice The EIP-712 digest oracles sign for settlement `seq` of a job.
    function settlementDigest(
        bytes32 jobId,
        address consumer,
        bytes32 network,
        uint64 seq,
        uint256[] calldata deviceIds,
        uint256[] calldata amounts,
        bool isFinal
    ) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    SETTLEMENT_TYPEHASH,
                    jobId,
                    consumer,
                    network,
                    seq,
                    keccak256(abi.encodePacked(deviceIds)),
                    keccak256(abi.encodePacked(amounts)),
                    isFinal
                )
            )
        );
    }

    // ------------------------------------------------------------------ consumers

    /// @notice Opens job `jobId` on `network`, escrowing `maxCredits` of the caller's credits (the
    /// most the job may cost) until `deadline`. Calling this is the consumer's consent to the hold.
    /// @dev Ids are first come, first served. Clients should derive them from the consumer's
    /// address (e.g. keccak256(consumer, network, nonce)); an id anyone can predict can be opened
    /// first by someone else (who pays for it), so a matcher must check the job's consumer.
    function open(bytes32 network, bytes32 jobId, uint256 maxCredits, uint64 deadline) external {
        if (jobId == bytes32(0)) revert ZeroJobId();
        if (maxCredits == 0) revert ZeroAmount("maxCredits");
        Job storage j = _jobs[jobId];
        if (j.status != Status.None) revert JobExists(jobId);
        if (deadline <= block.timestamp) revert DeadlineInPast(deadline, block.timestamp);
        if (!emissions.isNetwork(network)) revert UnknownNetwork(network);
        uint256 balance = credits.balanceOf(msg.sender);
        if (balance < maxCredits) revert InsufficientCredits(msg.sender, balance, maxCredits);

        j.consumer = msg.sender;
        j.deadline = deadline;
        j.status = Status.Open;
        j.network = network;
        j.escrowed = SafeCast.toUint128(maxCredits);
        emit JobOpened(jobId, msg.sender, network, maxCredits, deadline);
        credits.hold(msg.sender, maxCredits);
    }

    /// @notice Stops the job. Credits stay held so that the oracle's final settlement can pay the
    /// work verified up to now and refund the rest; if it does not come, the consumer may reclaim
    /// `settlementGrace` seconds from now (or from the deadline, if that is earlier).
    function cancel(bytes32 jobId) external {
        Job storage j = _activeJob(jobId);
        if (j.consumer != msg.sender) revert NotConsumer(jobId, msg.sender, j.consumer);
        if (j.status == Status.Cancelled) revert JobAlreadyCancelled(jobId);
        j.status = Status.Cancelled;
        j.cancelledAt = uint64(block.timestamp);
        emit JobCancelled(jobId, reclaimableAt(jobId));
    }

    /// @notice Takes back everything not yet settled, once the oracle has had `settlementGrace`
    /// seconds past the job's end to settle it, and closes the job. The consumer only: reclaiming
    /// forfeits any settlement still to come, which is the consumer's choice to make.
    function reclaim(bytes32 jobId) external {
        Job storage j = _activeJob(jobId);
        address consumer = j.consumer;
        if (consumer != msg.sender) revert NotConsumer(jobId, msg.sender, consumer);
        uint256 at = reclaimableAt(jobId);
        if (block.timestamp < at) revert ReclaimTooEarly(jobId, at, block.timestamp);
        uint256 refund = j.escrowed - j.burned - j.refunded;
        uint256 burned = j.burned;
        // forge-lint: disable-next-line(unsafe-typecast) refund <= escrowed, a uint128
        j.refunded += uint128(refund);
        j.status = Status.Reclaimed;
        emit JobClosed(jobId, Status.Reclaimed, burned, j.refunded);
        if (refund > 0) credits.releaseHeld(consumer, refund);
    }

    // ------------------------------------------------------------------ oracle quorum

    /// @notice Applies settlement `seq` of a job: burns `amounts[i]` of its escrow for the work of
    /// device `deviceIds[i]` (0: not attributed to one device) and, if `isFinal`, refunds what is
    /// left to the consumer and closes the job. Anyone may submit it; it counts only with a quorum
    /// of oracle signatures over `settlementDigest(...)` (65 bytes each, in increasing signer order).
    /// @param seq The job's next settlement number: 1 for the first, then one more each time.
    function settle(
        bytes32 jobId,
        uint64 seq,
        uint256[] calldata deviceIds,
        uint256[] calldata amounts,
        bool isFinal,
        bytes calldata signatures
    ) external {
        Job storage j = _activeJob(jobId);
        uint64 expected = j.seq + 1;
        if (seq != expected) revert UnexpectedSequence(jobId, seq, expected);
        if (deviceIds.length != amounts.length) revert LengthMismatch(deviceIds.length, amounts.length);
        if (amounts.length == 0 && !isFinal) revert EmptySettlement(jobId);
        _checkQuorum(settlementDigest(jobId, j.consumer, j.network, seq, deviceIds, amounts, isFinal), signatures);
        (uint256 total, uint256 refund) = _book(j, jobId, seq, amounts, isFinal);
        if (total > 0) credits.spendHeld(j.consumer, j.network, deviceIds, amounts);
        if (refund > 0) credits.releaseHeld(j.consumer, refund);
    }

    // ------------------------------------------------------------------ governance

    /// @notice Sets the settlement grace (it applies to every job's reclaim from now on, open ones
    /// included; the timelock's delay is the notice). Timelock only.
    function setSettlementGrace(uint64 grace) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setSettlementGrace(grace);
    }

    // ------------------------------------------------------------------ internals

    /// @dev The job, if it exists and is not closed.
    function _activeJob(bytes32 jobId) private view returns (Job storage j) {
        j = _jobs[jobId];
        Status status = j.status;
        if (status == Status.None) revert UnknownJob(jobId);
        if (status != Status.Open && status != Status.Cancelled) revert JobNotActive(jobId, status);
    }

    /// @dev Books settlement `seq` on the job (burned, and if final the refund and the close)
    /// before any credit moves, and returns what to burn and what to refund.
    function _book(Job storage j, bytes32 jobId, uint64 seq, uint256[] calldata amounts, bool isFinal)
        private
        returns (uint256 total, uint256 refund)
    {
        for (uint256 i; i < amounts.length; ++i) {
            if (amounts[i] == 0) revert ZeroAmount("amounts");
            total += amounts[i];
        }
        uint256 held = j.escrowed - j.burned - j.refunded;
        if (total > held) revert SettlementExceedsHeld(jobId, total, held);
        // forge-lint: disable-next-line(unsafe-typecast) total <= held <= escrowed, a uint128
        uint128 burned = j.burned + uint128(total);
        j.burned = burned;
        j.seq = seq;
        emit JobSettled(jobId, seq, total, burned, isFinal);
        if (isFinal) {
            refund = held - total;
            // forge-lint: disable-next-line(unsafe-typecast) refund <= held <= escrowed, a uint128
            uint128 refunded = j.refunded + uint128(refund);
            j.refunded = refunded;
            j.status = Status.Settled;
            emit JobClosed(jobId, Status.Settled, burned, refunded);
        }
    }

    function _setSettlementGrace(uint64 grace) private {
        if (grace > MAX_SETTLEMENT_GRACE) revert SettlementGraceTooLong(grace, MAX_SETTLEMENT_GRACE);
        settlementGrace = grace;
        emit SettlementGraceSet(grace);
    }
}
