// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IOracleSet
/// @notice The oracle set and quorum, as the RewardDistributor holds them. Contracts that accept
/// oracle-signed messages other than reward roots (escrow settlements, slash orders) read the set
/// from there, so the system has one oracle set, rotated by one governance call.
interface IOracleSet {
    /// @notice Signatures needed for an oracle message to count.
    function quorum() external view returns (uint8);

    /// @notice Whether `account` is an oracle key now.
    function isOracle(address account) external view returns (bool);
}
