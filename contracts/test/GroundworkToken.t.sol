// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {GroundworkToken} from "../src/token/GroundworkToken.sol";
import {Base} from "./utils/Base.t.sol";

contract GroundworkTokenTest is Base {
    function test_Metadata() public view {
        assertEq(token.name(), "Groundwork");
        assertEq(token.symbol(), "GWK");
        assertEq(token.decimals(), 18);
        assertEq(token.cap(), CAP);
        assertEq(token.minter(), address(emissions));
        assertEq(token.totalSupply(), GENESIS);
        assertEq(token.balanceOf(treasury), GENESIS);
    }

    function test_RevertWhen_MinterIsZero() public {
        vm.expectRevert(abi.encodeWithSelector(GroundworkToken.ZeroAddress.selector, "minter"));
        new GroundworkToken("x", "x", 1, address(0));
    }

    function testFuzz_RevertWhen_MintByAnyoneButEmissions(address caller) public {
        vm.assume(caller != address(emissions));
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(GroundworkToken.NotMinter.selector, caller, address(emissions)));
        token.mint(caller, 1);
    }

    function test_RevertWhen_MintAboveCap() public {
        vm.prank(address(emissions));
        vm.expectRevert(abi.encodeWithSelector(ERC20Capped.ERC20ExceededCap.selector, CAP + 1, CAP));
        token.mint(alice, CAP - GENESIS + 1);
    }

    function test_MintByEmissions() public {
        vm.prank(address(emissions));
        token.mint(alice, 5);
        assertEq(token.balanceOf(alice), 5);
    }

    function testFuzz_Burn(uint256 amount) public {
        amount = bound(amount, 0, GENESIS);
        vm.prank(treasury);
        token.burn(amount);
        assertEq(token.totalSupply(), GENESIS - amount);
    }

    function test_VotesUseTimestampClock() public {
        assertEq(token.clock(), block.timestamp);
        assertEq(token.CLOCK_MODE(), "mode=timestamp");
        vm.prank(treasury);
        token.delegate(treasury);
        uint256 t = block.timestamp;
        vm.warp(t + 1);
        assertEq(token.getVotes(treasury), GENESIS);
        assertEq(token.getPastVotes(treasury, t), GENESIS);
        assertEq(token.getPastTotalSupply(t), GENESIS);
    }

    function test_Permit() public {
        (address owner, uint256 pk) = makeAddrAndKey("permit-owner");
        _fund(owner, 10 ether);
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                owner,
                bob,
                10 ether,
                token.nonces(owner),
                deadline
            )
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        token.permit(owner, bob, 10 ether, deadline, v, r, s);
        assertEq(token.allowance(owner, bob), 10 ether);
        assertEq(token.nonces(owner), 1);
        // the same signature cannot be replayed
        vm.expectRevert();
        token.permit(owner, bob, 10 ether, deadline, v, r, s);
    }
}
