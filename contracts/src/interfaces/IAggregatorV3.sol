// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IAggregatorV3
/// @notice The price-feed shape of Chainlink's AggregatorV3Interface, so a Chainlink feed (or any
/// feed with the same ABI, e.g. Pyth's or RedStone's adapters) can be plugged in by governance.
interface IAggregatorV3 {
    function decimals() external view returns (uint8);

    function description() external view returns (string memory);

    function version() external view returns (uint256);

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}
