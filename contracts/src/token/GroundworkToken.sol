// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";

/// @title GroundworkToken
/// @notice The network's token: capped, burnable, with EIP-2612 permits and ERC-5805 votes on a
/// timestamp clock (so governance periods are in seconds on any chain or L2).
/// @dev The only minter is fixed at construction and can never change: the Emissions contract.
/// That makes "nothing beyond the schedule can ever be minted" a property of the bytecode, not of
/// an admin's good behaviour. The token has no admin at all.
contract GroundworkToken is ERC20, ERC20Burnable, ERC20Capped, ERC20Permit, ERC20Votes {
    /// @notice The emission contract, the only address allowed to mint.
    address public immutable minter;

    /// @notice `caller` tried to mint but only `minter` may.
    error NotMinter(address caller, address minter);
    /// @notice A constructor argument was the zero address.
    error ZeroAddress(string what);

    /// @param name_ ERC-20 name (also the EIP-712 domain name for permits).
    /// @param symbol_ ERC-20 symbol.
    /// @param cap_ Maximum total supply, in wei of token.
    /// @param minter_ The Emissions contract (its address is computed before it is deployed).
    constructor(string memory name_, string memory symbol_, uint256 cap_, address minter_)
        ERC20(name_, symbol_)
        ERC20Capped(cap_)
        ERC20Permit(name_)
    {
        if (minter_ == address(0)) revert ZeroAddress("minter");
        minter = minter_;
    }

    /// @notice Mints `amount` to `to`. Only the emission contract can call it.
    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert NotMinter(msg.sender, minter);
        _mint(to, amount);
    }

    /// @notice Votes are checkpointed by timestamp (ERC-6372), so governance periods are seconds.
    function clock() public view override returns (uint48) {
        return Time.timestamp();
    }

    /// @notice ERC-6372 description of the clock.
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    function _update(address from, address to, uint256 value)
        internal
        override(ERC20, ERC20Capped, ERC20Votes)
    {
        super._update(from, to, value);
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
