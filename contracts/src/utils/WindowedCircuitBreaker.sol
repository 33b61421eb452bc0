// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title WindowedCircuitBreaker
/// @notice A leaky-bucket limit on an outflow (Helium's circuit breakers: windowed limits with
/// linear decay on mints and reward escrow). The bucket's level rises by every amount that passes
/// and drains linearly at `limit / window` per second; an amount that would take the level above
/// `limit` is refused. So at most `limit` passes in any `window`-long stretch, and after a burst
/// capacity comes back gradually instead of all at once at a window boundary.
abstract contract WindowedCircuitBreaker {
    struct BreakerConfig {
        uint128 limit; // the most that may pass in one window
        uint64 window; // seconds
    }

    struct BreakerState {
        uint192 level; // amount still counted against the limit, as of `updatedAt`
        uint64 updatedAt;
    }

    BreakerConfig private _breakerConfig;
    BreakerState private _breakerState;

    /// @notice `amount` would take the window's total to above `limit`; `available` may pass now.
    error CircuitBreakerTripped(uint256 amount, uint256 available, uint256 limit);
    /// @notice A breaker needs a positive limit and window.
    error InvalidBreakerConfig(uint256 limit, uint256 window);

    /// @notice The breaker's limit or window changed.
    event CircuitBreakerConfigured(uint256 limit, uint256 window);

    /// @notice The current limit and window.
    function breakerConfig() public view returns (uint256 limit, uint256 window) {
        return (_breakerConfig.limit, _breakerConfig.window);
    }

    /// @notice How much may pass right now without tripping the breaker.
    function breakerAvailable() public view returns (uint256) {
        uint256 level = _currentLevel();
        uint256 limit = _breakerConfig.limit;
        return level >= limit ? 0 : limit - level;
    }

    function _configureBreaker(uint256 limit, uint256 window) internal {
        if (limit == 0 || limit > type(uint128).max || window == 0 || window > type(uint64).max) {
            revert InvalidBreakerConfig(limit, window);
        }
        // Settle the level under the old rate before the new one applies.
        _breakerState = BreakerState(uint192(_currentLevel()), uint64(block.timestamp));
        // forge-lint: disable-next-line(unsafe-typecast) both bounds are checked above
        _breakerConfig = BreakerConfig(uint128(limit), uint64(window));
        emit CircuitBreakerConfigured(limit, window);
    }

    /// @dev Counts `amount` against the limit, reverting with {CircuitBreakerTripped} if it does
    /// not fit.
    function _consumeBreaker(uint256 amount) internal {
        uint256 level = _currentLevel();
        uint256 limit = _breakerConfig.limit;
        if (amount > limit || level > limit - amount) {
            revert CircuitBreakerTripped(amount, level >= limit ? 0 : limit - level, limit);
        }
        // forge-lint: disable-next-line(unsafe-typecast) level + amount <= limit (a uint128)
        _breakerState = BreakerState(uint192(level + amount), uint64(block.timestamp));
    }

    function _currentLevel() private view returns (uint256) {
        BreakerState memory s = _breakerState;
        BreakerConfig memory c = _breakerConfig;
        if (c.window == 0) return s.level;
        uint256 drained = (uint256(c.limit) * (block.timestamp - s.updatedAt)) / c.window;
        return drained >= s.level ? 0 : s.level - drained;
    }
}
