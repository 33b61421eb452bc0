// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IOracleSet} from "../interfaces/IOracleSet.sol";
import {OracleQuorum} from "../utils/OracleQuorum.sol";
import {DeviceRegistry} from "./DeviceRegistry.sol";

/// @title SlashOrders
/// @notice Slashing on evidence. A verifier's fraud finding carries evidence; the epoch close
/// turns findings into slash orders that the oracle quorum (the RewardDistributor's set, the one
/// oracle set of the system) signs alongside the epoch's root, as EIP-712
/// `SlashOrder(epoch, deviceId, amount, evidenceHash, artifactHash)`. `evidenceHash` is the hash
/// of the finding's evidence, `artifactHash` the content hash of the epoch artifact that holds it,
/// so anyone can fetch the artifact, find the evidence and recheck the finding (`epoch verify`).
///
/// A proposed order waits out a challenge window during which the guardian (or governance) may
/// veto it; after it, anyone may execute it, once, and this contract (holding the registry's
/// SLASHER_ROLE) slashes the device's stake, which the registry burns.
///
/// The window is this contract's own, not the distributor's: a slash burns stake irreversibly
/// and its evidence may need a person to recheck it, while reward roots want a short window so
/// that providers are paid promptly. Governance should keep it shorter than the registry's
/// unstaking delay, or a cheater could withdraw its stake before the order executes.
///
/// An order's id is the EIP-712 struct hash of its fields, so the same order can be proposed
/// only once, and a vetoed order can never come back: a new order needs new fields (for example a
/// new epoch's finding).
contract SlashOrders is AccessControl, EIP712, OracleQuorum {
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    bytes32 public constant SLASH_ORDER_TYPEHASH = keccak256(
        "SlashOrder(uint64 epoch,uint256 deviceId,uint256 amount,bytes32 evidenceHash,bytes32 artifactHash)"
    );
    uint256 public constant MAX_CHALLENGE_WINDOW = 30 days;

    /// @notice Pending: in or past its window, not executed. Vetoed: never executes. Executed:
    /// the stake was slashed. Skipped: executed when the device had no stake left, so nothing
    /// was slashed (and nothing ever will be by this order).
    enum Status {
        None,
        Pending,
        Vetoed,
        Executed,
        Skipped
    }

    /// @dev Three slots: deviceId, evidenceHash, amount | executableAt | status.
    struct Order {
        uint256 deviceId;
        bytes32 evidenceHash;
        uint128 amount;
        uint64 executableAt;
        Status status;
    }

    DeviceRegistry public immutable registry;
    /// @notice Seconds a proposed order waits before it can be executed (fixed per order when it
    /// is proposed).
    uint64 public challengeWindow;

    mapping(bytes32 orderId => Order) private _orders;

    event SlashProposed(
        bytes32 indexed orderId,
        uint64 indexed epoch,
        uint256 indexed deviceId,
        uint256 amount,
        bytes32 evidenceHash,
        bytes32 artifactHash,
        uint256 executableAt
    );
    event SlashVetoed(bytes32 indexed orderId, uint256 indexed deviceId, address indexed by);
    /// @notice The registry slashed up to `amount` (its `DeviceSlashed` says how much it took).
    event SlashExecuted(bytes32 indexed orderId, uint256 indexed deviceId, uint256 amount, bytes32 evidenceHash);
    /// @notice The device had nothing left to slash; the order is spent.
    event SlashSkipped(bytes32 indexed orderId, uint256 indexed deviceId, bytes32 evidenceHash);
    event ChallengeWindowSet(uint256 challengeWindow);

    error ZeroAmount(string what);
    error ZeroHash(string what);
    error UnknownDevice(uint256 deviceId);
    error OrderExists(bytes32 orderId, Status status);
    error UnknownOrder(bytes32 orderId);
    error OrderNotPending(bytes32 orderId, Status status);
    error ChallengeWindowNotOver(bytes32 orderId, uint256 executableAt, uint256 nowTime);
    error ChallengeWindowTooLong(uint256 window, uint256 max);

    /// @param registry_ The device registry (this contract needs its SLASHER_ROLE).
    /// @param oracleSet_ The RewardDistributor, whose oracle set and quorum sign orders.
    /// @param admin Holder of DEFAULT_ADMIN_ROLE and GUARDIAN_ROLE (the timelock).
    /// @param guardian Also holds GUARDIAN_ROLE, if not zero.
    /// @param challengeWindow_ See `challengeWindow`.
    constructor(
        DeviceRegistry registry_,
        IOracleSet oracleSet_,
        address admin,
        address guardian,
        uint64 challengeWindow_
    ) EIP712("Groundwork SlashOrders", "1") OracleQuorum(oracleSet_) {
        if (address(registry_) == address(0)) revert ZeroAddress("registry");
        if (admin == address(0)) revert ZeroAddress("admin");
        registry = registry_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GUARDIAN_ROLE, admin);
        if (guardian != address(0)) _grantRole(GUARDIAN_ROLE, guardian);
        _setChallengeWindow(challengeWindow_);
    }

    // ------------------------------------------------------------------ views

    /// @notice An order's id: the EIP-712 struct hash of its fields.
    function orderId(uint64 epoch, uint256 deviceId, uint256 amount, bytes32 evidenceHash, bytes32 artifactHash)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(SLASH_ORDER_TYPEHASH, epoch, deviceId, amount, evidenceHash, artifactHash));
    }

    /// @notice The EIP-712 digest oracles sign for an order.
    function orderDigest(uint64 epoch, uint256 deviceId, uint256 amount, bytes32 evidenceHash, bytes32 artifactHash)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(orderId(epoch, deviceId, amount, evidenceHash, artifactHash));
    }

    /// @notice Everything stored about an order (status None if there is no such order).
    function order(bytes32 id) external view returns (Order memory) {
        return _orders[id];
    }

    // ------------------------------------------------------------------ oracle quorum

    /// @notice Proposes slashing up to `amount` of device `deviceId`'s stake for the finding of
    /// `epoch` whose evidence hashes to `evidenceHash`, in the artifact `artifactHash`. Anyone may
    /// submit it; it counts only with a quorum of oracle signatures over `orderDigest(...)`
    /// (65 bytes each, in increasing signer order).
    /// @return id The order's id.
    function propose(
        uint64 epoch,
        uint256 deviceId,
        uint256 amount,
        bytes32 evidenceHash,
        bytes32 artifactHash,
        bytes calldata signatures
    ) external returns (bytes32 id) {
        if (amount == 0) revert ZeroAmount("amount");
        if (evidenceHash == bytes32(0)) revert ZeroHash("evidenceHash");
        if (artifactHash == bytes32(0)) revert ZeroHash("artifactHash");
        id = orderId(epoch, deviceId, amount, evidenceHash, artifactHash);
        Order storage o = _orders[id];
        if (o.status != Status.None) revert OrderExists(id, o.status);
        // Devices are never deleted, so one that exists now still exists when the order executes.
        try registry.ownerOf(deviceId) returns (address) {}
        catch {
            revert UnknownDevice(deviceId);
        }
        _checkQuorum(_hashTypedDataV4(id), signatures);

        uint256 executableAt = block.timestamp + challengeWindow;
        o.deviceId = deviceId;
        o.evidenceHash = evidenceHash;
        o.amount = SafeCast.toUint128(amount);
        // forge-lint: disable-next-line(unsafe-typecast) a timestamp plus at most 30 days
        o.executableAt = uint64(executableAt);
        o.status = Status.Pending;
        emit SlashProposed(id, epoch, deviceId, amount, evidenceHash, artifactHash, executableAt);
    }

    // ------------------------------------------------------------------ guardian

    /// @notice Vetoes a pending order: it can never execute, nor be proposed again. Allowed until
    /// the order executes, even after its window. Guardian or governance.
    function veto(bytes32 id) external onlyRole(GUARDIAN_ROLE) {
        Order storage o = _pendingOrder(id);
        o.status = Status.Vetoed;
        emit SlashVetoed(id, o.deviceId, msg.sender);
    }

    // ------------------------------------------------------------------ anyone

    /// @notice Executes a pending order whose window is over: the registry slashes up to its
    /// amount from the device's stake (active first, then unstaking) with the evidence hash, and
    /// burns it. Once only.
    /// @dev A device with no stake left at all is not an error: the order is marked Skipped (with
    /// `SlashSkipped`) and spent, rather than left to wait for a stake. A pending order that
    /// waited would slash whoever stakes the device next, possibly a new owner who bought the
    /// NFT and did nothing wrong; and a keeper executing a batch should not fail on it. Any other
    /// revert of the registry (for example a missing SLASHER_ROLE) reverts the execution.
    function execute(bytes32 id) external {
        Order storage o = _pendingOrder(id);
        if (block.timestamp < o.executableAt) revert ChallengeWindowNotOver(id, o.executableAt, block.timestamp);
        uint256 deviceId = o.deviceId;
        bytes32 evidenceHash = o.evidenceHash;
        o.status = Status.Executed;
        try registry.slash(deviceId, o.amount, evidenceHash) {
            emit SlashExecuted(id, deviceId, o.amount, evidenceHash);
        } catch (bytes memory reason) {
            bytes32 nothingToSlash = keccak256(abi.encodeWithSelector(DeviceRegistry.NothingToSlash.selector, deviceId));
            if (keccak256(reason) != nothingToSlash) {
                assembly ("memory-safe") {
                    revert(add(reason, 0x20), mload(reason))
                }
            }
            o.status = Status.Skipped;
            emit SlashSkipped(id, deviceId, evidenceHash);
        }
    }

    // ------------------------------------------------------------------ governance

    /// @notice Sets the challenge window for orders proposed from now on. Timelock only.
    function setChallengeWindow(uint64 window) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setChallengeWindow(window);
    }

    // ------------------------------------------------------------------ internals

    function _pendingOrder(bytes32 id) private view returns (Order storage o) {
        o = _orders[id];
        Status status = o.status;
        if (status == Status.None) revert UnknownOrder(id);
        if (status != Status.Pending) revert OrderNotPending(id, status);
    }

    function _setChallengeWindow(uint64 window) private {
        if (window > MAX_CHALLENGE_WINDOW) revert ChallengeWindowTooLong(window, MAX_CHALLENGE_WINDOW);
        challengeWindow = window;
        emit ChallengeWindowSet(window);
    }
}
