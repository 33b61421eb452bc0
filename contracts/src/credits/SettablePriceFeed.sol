// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IAggregatorV3} from "../interfaces/IAggregatorV3.sol";

/// @title SettablePriceFeed
/// @notice A price feed for devnets and tests: its owner posts prices, each becoming a new round
/// stamped with the block time. It behaves like a real feed in every way the credits contract
/// checks (it goes stale if nobody updates it). Never use it on a public network.
contract SettablePriceFeed is IAggregatorV3, Ownable {
    uint8 public immutable override decimals;
    string public override description;

    uint80 private _roundId;
    int256 private _answer;
    uint256 private _updatedAt;

    /// @notice A new price was posted.
    event PriceSet(uint80 indexed roundId, int256 answer, uint256 updatedAt);

    constructor(address owner_, uint8 decimals_, string memory description_, int256 initialAnswer)
        Ownable(owner_)
    {
        decimals = decimals_;
        description = description_;
        _set(initialAnswer);
    }

    /// @notice Posts `answer` as a new round at the current block time. Any value is accepted so
    /// that consumers' handling of zero and negative prices can be exercised.
    function setPrice(int256 answer) external onlyOwner {
        _set(answer);
    }

    function version() external pure override returns (uint256) {
        return 1;
    }

    function latestRoundData() external view override returns (uint80, int256, uint256, uint256, uint80) {
        return (_roundId, _answer, _updatedAt, _updatedAt, _roundId);
    }

    function _set(int256 answer) private {
        _roundId++;
        _answer = answer;
        _updatedAt = block.timestamp;
        emit PriceSet(_roundId, answer, block.timestamp);
    }
}
