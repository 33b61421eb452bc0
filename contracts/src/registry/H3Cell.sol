// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title H3Cell
/// @notice Structural validation of a 64-bit H3 cell index (Uber's H3 bit layout): bit 63 is 0,
/// bits 59-62 hold mode 1 (cell), bits 56-58 are 0, bits 52-55 the resolution (0-15), bits 45-51
/// the base cell (0-121), then fifteen 3-bit digits: those up to the resolution are 0-6, the rest 7.
/// @dev It does not check the pentagon "deleted subsequence" rule (a cell whose first non-zero
/// digit under a pentagon base cell is 1); the oracle validates locations fully with h3-js.
library H3Cell {
    uint256 private constant MAX_BASE_CELL = 121;

    /// @notice Whether `cell` is laid out as an H3 cell index.
    function isValidCell(uint64 cell) internal pure returns (bool) {
        if (cell >> 63 != 0) return false;
        if ((cell >> 59) & 0xF != 1) return false;
        if ((cell >> 56) & 0x7 != 0) return false;
        uint256 res = (cell >> 52) & 0xF;
        if ((cell >> 45) & 0x7F > MAX_BASE_CELL) return false;
        for (uint256 r = 1; r <= 15; ++r) {
            uint256 digit = (cell >> ((15 - r) * 3)) & 0x7;
            if (r <= res ? digit == 7 : digit != 7) return false;
        }
        return true;
    }

    /// @notice The resolution (0-15) of a valid cell.
    function resolution(uint64 cell) internal pure returns (uint8) {
        return uint8((cell >> 52) & 0xF);
    }
}
