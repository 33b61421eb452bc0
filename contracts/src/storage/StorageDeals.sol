// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ServiceCredits} from "../credits/ServiceCredits.sol";
import {Emissions} from "../emissions/Emissions.sol";
import {IOracleSet} from "../interfaces/IOracleSet.sol";
import {OracleQuorum} from "../utils/OracleQuorum.sol";

/// @title StorageDeals
/// @notice One deal per stored file: the consumer escrows credits for bytes × duration at the
/// network's price, and the oracle quorum releases them, epoch by epoch, to the devices whose
/// shards passed their storage proofs (as Filecoin Warm Storage pays only proven periods). What was
/// not released returns to the consumer when the deal ends or is terminated.
///
/// The deal fixes what is stored: `commitment` is SHA-256 over (shard count, bytes per shard, root
/// of the tree over the shards' Merkle roots), so every proof the oracle accepts is checkable
/// against the chain. Shards that move to other devices during repair are rebuilt byte for byte, so
/// the commitment stays; the devices paid are named in each settlement.
///
/// What the quorum can do is bounded here, not trusted: it can never release more than the deal
/// has accrued (escrow × elapsed / duration, up to the end or the termination), so it cannot pay
/// for storage before it was provided; releases go only to burns attributed to devices (usage
/// rewards follow them) or back to the consumer. For every deal, escrowed = burned + refunded +
/// held, always. Settlements are numbered per deal and apply in order, each once.
///
/// A silent oracle cannot trap credits: `settlementGrace` seconds after the deal's end (or its
/// termination) the consumer may reclaim everything not yet released.
contract StorageDeals is AccessControl, EIP712, OracleQuorum {
    bytes32 public constant SETTLEMENT_TYPEHASH = keccak256(
        "DealSettlement(bytes32 dealId,address consumer,bytes32 network,uint64 seq,uint256[] deviceIds,uint256[] amounts,bool isFinal)"
    );
    /// @notice Prices are in 1e-18 credits per byte-second.
    uint256 public constant PRICE_SCALE = 1e18;
    uint256 public constant MAX_SETTLEMENT_GRACE = 90 days;
    /// @notice Longest deal: Filecoin's market allows 1,278 days (actors/market/src/policy.rs).
    uint64 public constant MAX_DURATION = 1278 days;

    /// @notice None: no such deal. Active: storing. Terminated: the consumer ended it early; still
    /// settling. Settled: closed by a final settlement. Reclaimed: closed by the consumer.
    enum Status {
        None,
        Active,
        Terminated,
        Settled,
        Reclaimed
    }

    /// @dev Five slots.
    struct Deal {
        address consumer;
        uint64 start;
        Status status;
        uint16 shards;
        bytes32 network;
        bytes32 commitment;
        uint128 escrowed;
        uint128 burned;
        uint128 refunded;
        uint64 end;
        uint64 terminatedAt;
        uint64 bytesStored;
        uint64 seq;
    }

    ServiceCredits public immutable credits;
    Emissions public immutable emissions;
    uint64 public settlementGrace;
    /// @notice Price per network, in 1e-18 credits per byte-second (0: the network takes no deals).
    mapping(bytes32 network => uint256) public pricePerByteSecond;

    mapping(bytes32 dealId => Deal) private _deals;

    event DealOpened(
        bytes32 indexed dealId,
        address indexed consumer,
        bytes32 indexed network,
        bytes32 commitment,
        uint256 shards,
        uint256 bytesStored,
        uint256 start,
        uint256 end,
        uint256 escrowed
    );
    event DealTerminated(bytes32 indexed dealId, uint256 terminatedAt, uint256 reclaimableAt);
    /// @notice Settlement `seq` released `credits` (per device in ServiceCredits' `CreditsSpent`).
    event DealSettled(bytes32 indexed dealId, uint64 seq, uint256 credits, uint256 burned, bool isFinal);
    event DealClosed(bytes32 indexed dealId, Status status, uint256 burned, uint256 refunded);
    event PriceSet(bytes32 indexed network, uint256 pricePerByteSecond);
    event SettlementGraceSet(uint256 settlementGrace);

    error ZeroDealId();
    error ZeroAmount(string what);
    error UnknownNetwork(bytes32 network);
    error NoPrice(bytes32 network);
    error DealExists(bytes32 dealId);
    error DurationOutOfRange(uint256 duration, uint256 max);
    error PriceAboveLimit(uint256 escrow, uint256 maxCredits);
    error InsufficientCredits(address account, uint256 balance, uint256 needed);
    error UnknownDeal(bytes32 dealId);
    error DealNotActive(bytes32 dealId, Status status);
    error NotConsumer(bytes32 dealId, address caller, address consumer);
    error AlreadyTerminated(bytes32 dealId);
    error UnexpectedSequence(bytes32 dealId, uint64 seq, uint64 expected);
    error LengthMismatch(uint256 deviceIds, uint256 amounts);
    error EmptySettlement(bytes32 dealId);
    /// @notice A settlement may not release more than the deal has accrued so far.
    error ExceedsAccrued(bytes32 dealId, uint256 burned, uint256 accrued);
    error ReclaimTooEarly(bytes32 dealId, uint256 reclaimableAt, uint256 nowTime);
    error SettlementGraceTooLong(uint256 grace, uint256 max);

    constructor(
        ServiceCredits credits_,
        Emissions emissions_,
        IOracleSet oracleSet_,
        address admin,
        uint64 settlementGrace_
    ) EIP712("Groundwork StorageDeals", "1") OracleQuorum(oracleSet_) {
        if (address(credits_) == address(0)) revert ZeroAddress("credits");
        if (address(emissions_) == address(0)) revert ZeroAddress("emissions");
        if (admin == address(0)) revert ZeroAddress("admin");
        credits = credits_;
        emissions = emissions_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setSettlementGrace(settlementGrace_);
    }

    // ------------------------------------------------------------------ views

    function deal(bytes32 dealId) external view returns (Deal memory) {
        return _deals[dealId];
    }

    /// @notice Credits a deal of `bytesStored` bytes for `duration` seconds escrows on `network` now.
    function quote(bytes32 network, uint256 bytesStored, uint256 duration) public view returns (uint256) {
        uint256 price = pricePerByteSecond[network];
        if (price == 0) revert NoPrice(network);
        return Math.mulDiv(bytesStored * duration, price, PRICE_SCALE, Math.Rounding.Ceil);
    }

    function heldFor(bytes32 dealId) public view returns (uint256) {
        Deal storage d = _deals[dealId];
        return d.escrowed - d.burned - d.refunded;
    }

    /// @notice Credits the deal has accrued by now: escrow × elapsed / duration, where time stops
    /// at the end or the termination.
    function accrued(bytes32 dealId) public view returns (uint256) {
        Deal storage d = _deals[dealId];
        if (d.status == Status.None) revert UnknownDeal(dealId);
        return _accrued(d);
    }

    function reclaimableAt(bytes32 dealId) public view returns (uint256) {
        Deal storage d = _deals[dealId];
        if (d.status == Status.None) revert UnknownDeal(dealId);
        return _stop(d) + settlementGrace;
    }

    function settlementDigest(
        bytes32 dealId,
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
                    dealId,
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

    /// @notice Opens deal `dealId`: `shards` shards of `bytesStored` bytes in all (every shard the
    /// same size), committed by `commitment`, stored from now for `duration` seconds. Escrows the
    /// network's price for it, which must not exceed `maxCredits` (the price the client was shown).
    /// @dev Ids are first come, first served: derive them from the consumer (keccak256 of consumer,
    /// network, nonce), as an id others can predict can be taken first.
    function open(
        bytes32 network,
        bytes32 dealId,
        bytes32 commitment,
        uint16 shards,
        uint64 bytesStored,
        uint64 duration,
        uint256 maxCredits
    ) external {
        if (dealId == bytes32(0)) revert ZeroDealId();
        if (commitment == bytes32(0)) revert ZeroAmount("commitment");
        if (shards == 0) revert ZeroAmount("shards");
        if (bytesStored == 0) revert ZeroAmount("bytesStored");
        if (duration == 0 || duration > MAX_DURATION) revert DurationOutOfRange(duration, MAX_DURATION);
        Deal storage d = _deals[dealId];
        if (d.status != Status.None) revert DealExists(dealId);
        if (!emissions.isNetwork(network)) revert UnknownNetwork(network);
        uint256 cost = quote(network, bytesStored, duration);
        if (cost > maxCredits) revert PriceAboveLimit(cost, maxCredits);
        uint256 balance = credits.balanceOf(msg.sender);
        if (balance < cost) revert InsufficientCredits(msg.sender, balance, cost);

        uint64 start = uint64(block.timestamp);
        d.consumer = msg.sender;
        d.start = start;
        d.status = Status.Active;
        d.shards = shards;
        d.network = network;
        d.commitment = commitment;
        d.escrowed = SafeCast.toUint128(cost);
        d.end = start + duration;
        d.bytesStored = bytesStored;
        emit DealOpened(dealId, msg.sender, network, commitment, shards, bytesStored, start, start + duration, cost);
        credits.hold(msg.sender, cost);
    }

    /// @notice Ends the deal now (`storage rm`): nothing accrues from here on. The oracle's final
    /// settlement pays what was proven up to now and refunds the rest; if it does not come, the
    /// consumer may reclaim `settlementGrace` seconds from now.
    function terminate(bytes32 dealId) external {
        Deal storage d = _activeDeal(dealId);
        if (d.consumer != msg.sender) revert NotConsumer(dealId, msg.sender, d.consumer);
        if (d.status == Status.Terminated) revert AlreadyTerminated(dealId);
        d.status = Status.Terminated;
        uint64 at = uint64(block.timestamp);
        d.terminatedAt = at < d.end ? at : d.end;
        emit DealTerminated(dealId, d.terminatedAt, reclaimableAt(dealId));
    }

    /// @notice Takes back everything not released, once the oracle has had `settlementGrace`
    /// seconds past the deal's end (or termination), and closes the deal.
    function reclaim(bytes32 dealId) external {
        Deal storage d = _activeDeal(dealId);
        address consumer = d.consumer;
        if (consumer != msg.sender) revert NotConsumer(dealId, msg.sender, consumer);
        uint256 at = reclaimableAt(dealId);
        if (block.timestamp < at) revert ReclaimTooEarly(dealId, at, block.timestamp);
        uint256 refund = d.escrowed - d.burned - d.refunded;
        // forge-lint: disable-next-line(unsafe-typecast) refund <= escrowed, a uint128
        d.refunded += uint128(refund);
        d.status = Status.Reclaimed;
        emit DealClosed(dealId, Status.Reclaimed, d.burned, d.refunded);
        if (refund > 0) credits.releaseHeld(consumer, refund);
    }

    // ------------------------------------------------------------------ oracle quorum

    /// @notice Applies settlement `seq` of a deal: burns `amounts[i]` for device `deviceIds[i]`'s
    /// proven storage, never past what the deal has accrued; if `isFinal`, refunds the rest and
    /// closes the deal. Anyone may submit it with a quorum of oracle signatures.
    function settle(
        bytes32 dealId,
        uint64 seq,
        uint256[] calldata deviceIds,
        uint256[] calldata amounts,
        bool isFinal,
        bytes calldata signatures
    ) external {
        Deal storage d = _activeDeal(dealId);
        uint64 expected = d.seq + 1;
        if (seq != expected) revert UnexpectedSequence(dealId, seq, expected);
        if (deviceIds.length != amounts.length) revert LengthMismatch(deviceIds.length, amounts.length);
        if (amounts.length == 0 && !isFinal) revert EmptySettlement(dealId);
        _checkQuorum(settlementDigest(dealId, d.consumer, d.network, seq, deviceIds, amounts, isFinal), signatures);
        (uint256 total, uint256 refund) = _book(d, dealId, seq, amounts, isFinal);
        if (total > 0) credits.spendHeld(d.consumer, d.network, deviceIds, amounts);
        if (refund > 0) credits.releaseHeld(d.consumer, refund);
    }

    // ------------------------------------------------------------------ governance

    /// @notice Sets a network's storage price (new deals only; open deals keep their escrow).
    function setPrice(bytes32 network, uint256 price) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (!emissions.isNetwork(network)) revert UnknownNetwork(network);
        pricePerByteSecond[network] = price;
        emit PriceSet(network, price);
    }

    function setSettlementGrace(uint64 grace) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setSettlementGrace(grace);
    }

    // ------------------------------------------------------------------ internals

    function _activeDeal(bytes32 dealId) private view returns (Deal storage d) {
        d = _deals[dealId];
        Status status = d.status;
        if (status == Status.None) revert UnknownDeal(dealId);
        if (status != Status.Active && status != Status.Terminated) revert DealNotActive(dealId, status);
    }

    /// @dev When accrual stops: the end, or the termination if earlier.
    function _stop(Deal storage d) private view returns (uint256) {
        return d.terminatedAt != 0 ? d.terminatedAt : d.end;
    }

    function _accrued(Deal storage d) private view returns (uint256) {
        uint256 stop = _stop(d);
        uint256 t = block.timestamp < stop ? block.timestamp : stop;
        return Math.mulDiv(d.escrowed, t - d.start, d.end - d.start);
    }

    /// @dev Books settlement `seq` (burned, and if final the refund and the close) before any
    /// credit moves, and returns what to burn and what to refund.
    function _book(Deal storage d, bytes32 dealId, uint64 seq, uint256[] calldata amounts, bool isFinal)
        private
        returns (uint256 total, uint256 refund)
    {
        for (uint256 i; i < amounts.length; ++i) {
            if (amounts[i] == 0) revert ZeroAmount("amounts");
            total += amounts[i];
        }
        uint256 burned = d.burned + total;
        uint256 cap = _accrued(d);
        if (burned > cap) revert ExceedsAccrued(dealId, burned, cap);
        // forge-lint: disable-next-line(unsafe-typecast) burned <= accrued <= escrowed, a uint128
        d.burned = uint128(burned);
        d.seq = seq;
        emit DealSettled(dealId, seq, total, burned, isFinal);
        if (isFinal) {
            refund = d.escrowed - burned - d.refunded;
            // forge-lint: disable-next-line(unsafe-typecast) refund <= escrowed, a uint128
            d.refunded += uint128(refund);
            d.status = Status.Settled;
            emit DealClosed(dealId, Status.Settled, burned, d.refunded);
        }
    }

    function _setSettlementGrace(uint64 grace) private {
        if (grace > MAX_SETTLEMENT_GRACE) revert SettlementGraceTooLong(grace, MAX_SETTLEMENT_GRACE);
        settlementGrace = grace;
        emit SettlementGraceSet(grace);
    }
}
