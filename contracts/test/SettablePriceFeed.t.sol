// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {SettablePriceFeed} from "../src/credits/SettablePriceFeed.sol";

contract SettablePriceFeedTest is Test {
    SettablePriceFeed internal feed;
    address internal owner = makeAddr("owner");

    function setUp() public {
        vm.warp(1000);
        feed = new SettablePriceFeed(owner, 8, "GWK / USD", 2e8);
    }

    function test_InitialRound() public view {
        (uint80 round, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredIn) = feed.latestRoundData();
        assertEq(round, 1);
        assertEq(answer, 2e8);
        assertEq(startedAt, 1000);
        assertEq(updatedAt, 1000);
        assertEq(answeredIn, 1);
        assertEq(feed.decimals(), 8);
        assertEq(feed.description(), "GWK / USD");
        assertEq(feed.version(), 1);
    }

    function testFuzz_SetPriceStartsNewRound(int256 price, uint32 later) public {
        vm.warp(1000 + uint256(later));
        vm.expectEmit(address(feed));
        emit SettablePriceFeed.PriceSet(2, price, 1000 + uint256(later));
        vm.prank(owner);
        feed.setPrice(price);
        (uint80 round, int256 answer,, uint256 updatedAt,) = feed.latestRoundData();
        assertEq(round, 2);
        assertEq(answer, price);
        assertEq(updatedAt, 1000 + uint256(later));
    }

    function testFuzz_RevertWhen_NotOwner(address caller) public {
        vm.assume(caller != owner);
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller));
        feed.setPrice(1);
    }
}
