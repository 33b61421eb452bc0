// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.t.sol";
import {StorageDeals} from "../src/storage/StorageDeals.sol";
import {ServiceCredits} from "../src/credits/ServiceCredits.sol";
import {OracleQuorum} from "../src/utils/OracleQuorum.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

contract StorageDealsTest is Base {
    bytes32 internal constant DEAL = keccak256("deal-1");
    bytes32 internal constant COMMITMENT = keccak256("commitment");
    uint64 internal constant BYTES = 8 * 2 ** 30; // 8 GiB stored (2 GiB file, 4-of-8)
    uint64 internal constant DURATION = 30 days;

    function _open(address who, bytes32 id) internal returns (uint256 cost) {
        cost = deals.quote(STORAGE, BYTES, DURATION);
        _buyCredits(who, cost);
        vm.prank(who);
        deals.open(STORAGE, id, COMMITMENT, 8, BYTES, DURATION, cost);
    }

    function test_quoteIsBytesTimesDurationTimesPriceRoundedUp() public view {
        uint256 q = deals.quote(STORAGE, BYTES, DURATION);
        assertEq(q, (uint256(BYTES) * DURATION * STORAGE_PRICE + 1e18 - 1) / 1e18);
        // 8 GiB for 30 days at 2.50 USDFC/TiB/month is about 1,953 credits ($0.0195).
        assertApproxEqAbs(q, 1953, 2);
        assertEq(deals.quote(STORAGE, 1, 1), 1, "never free");
    }

    function test_openEscrowsAndRecordsTheDeal() public {
        uint256 cost = _open(alice, DEAL);
        StorageDeals.Deal memory d = deals.deal(DEAL);
        assertEq(d.consumer, alice);
        assertEq(uint8(d.status), uint8(StorageDeals.Status.Active));
        assertEq(d.commitment, COMMITMENT);
        assertEq(d.shards, 8);
        assertEq(d.bytesStored, BYTES);
        assertEq(d.end - d.start, DURATION);
        assertEq(d.escrowed, cost);
        assertEq(credits.balanceOf(alice), 0);
        assertEq(credits.heldBy(alice, address(deals)), cost);
        assertEq(deals.heldFor(DEAL), cost);
        assertEq(deals.accrued(DEAL), 0);
    }

    function test_openRefusals() public {
        uint256 cost = deals.quote(STORAGE, BYTES, DURATION);
        _buyCredits(alice, cost);
        vm.startPrank(alice);
        vm.expectRevert(StorageDeals.ZeroDealId.selector);
        deals.open(STORAGE, 0, COMMITMENT, 8, BYTES, DURATION, cost);
        vm.expectRevert(abi.encodeWithSelector(StorageDeals.ZeroAmount.selector, "commitment"));
        deals.open(STORAGE, DEAL, 0, 8, BYTES, DURATION, cost);
        vm.expectRevert(abi.encodeWithSelector(StorageDeals.ZeroAmount.selector, "shards"));
        deals.open(STORAGE, DEAL, COMMITMENT, 0, BYTES, DURATION, cost);
        vm.expectRevert(abi.encodeWithSelector(StorageDeals.DurationOutOfRange.selector, 0, 1278 days));
        deals.open(STORAGE, DEAL, COMMITMENT, 8, BYTES, 0, cost);
        vm.expectRevert(abi.encodeWithSelector(StorageDeals.DurationOutOfRange.selector, 1279 days, 1278 days));
        deals.open(STORAGE, DEAL, COMMITMENT, 8, BYTES, 1279 days, cost);
        vm.expectRevert(abi.encodeWithSelector(StorageDeals.UnknownNetwork.selector, keccak256("nope")));
        deals.open(keccak256("nope"), DEAL, COMMITMENT, 8, BYTES, DURATION, cost);
        vm.expectRevert(abi.encodeWithSelector(StorageDeals.NoPrice.selector, UPTIME));
        deals.open(UPTIME, DEAL, COMMITMENT, 8, BYTES, DURATION, cost);
        vm.expectRevert(abi.encodeWithSelector(StorageDeals.PriceAboveLimit.selector, cost, cost - 1));
        deals.open(STORAGE, DEAL, COMMITMENT, 8, BYTES, DURATION, cost - 1);
        vm.expectRevert(
            abi.encodeWithSelector(StorageDeals.InsufficientCredits.selector, alice, cost, deals.quote(STORAGE, BYTES * 2, DURATION))
        );
        deals.open(STORAGE, DEAL, COMMITMENT, 8, BYTES * 2, DURATION, cost * 3);
        deals.open(STORAGE, DEAL, COMMITMENT, 8, BYTES, DURATION, cost);
        vm.expectRevert(abi.encodeWithSelector(StorageDeals.DealExists.selector, DEAL));
        deals.open(STORAGE, DEAL, COMMITMENT, 8, BYTES, DURATION, cost);
        vm.stopPrank();
    }

    function test_settlementsPayProvenStorageUpToWhatHasAccrued() public {
        uint256 cost = _open(alice, DEAL);
        uint256 dev1 = _register(0xD1, bob, STORAGE, 0);
        uint256 dev2 = _register(0xD2, bob, STORAGE, 0);
        // Nothing has accrued at the start: the oracle cannot pay ahead of storage.
        {
            bytes memory sigs = _signDealSettlement(DEAL, 1, _one(dev1), _one(1), false);
            vm.expectRevert(abi.encodeWithSelector(StorageDeals.ExceedsAccrued.selector, DEAL, 1, 0));
            deals.settle(DEAL, 1, _one(dev1), _one(1), false, sigs);
        }

        vm.warp(block.timestamp + DURATION / 2);
        uint256 half = cost / 2;
        assertEq(deals.accrued(DEAL), half);
        {
            bytes memory sigs = _signDealSettlement(DEAL, 1, _two(dev1, dev2), _two(half / 2, half - half / 2 + 1), false);
            vm.expectRevert(abi.encodeWithSelector(StorageDeals.ExceedsAccrued.selector, DEAL, half + 1, half));
            deals.settle(DEAL, 1, _two(dev1, dev2), _two(half / 2, half - half / 2 + 1), false, sigs);
        }
        _settleDeal(DEAL, 1, _two(dev1, dev2), _two(100, 200), false);
        assertEq(deals.deal(DEAL).burned, 300);
        assertEq(credits.heldBy(alice, address(deals)), cost - 300);

        // A replay or a skipped number is refused.
        {
            bytes memory sigs = _signDealSettlement(DEAL, 1, _one(dev1), _one(1), false);
            vm.expectRevert(abi.encodeWithSelector(StorageDeals.UnexpectedSequence.selector, DEAL, 1, 2));
            deals.settle(DEAL, 1, _one(dev1), _one(1), false, sigs);
        }
        {
            bytes memory sigs = _signDealSettlement(DEAL, 3, _one(dev1), _one(1), false);
            vm.expectRevert(abi.encodeWithSelector(StorageDeals.UnexpectedSequence.selector, DEAL, 3, 2));
            deals.settle(DEAL, 3, _one(dev1), _one(1), false, sigs);
        }

        // After the end, the final settlement pays the rest of what was proven and refunds the remainder.
        vm.warp(block.timestamp + DURATION);
        assertEq(deals.accrued(DEAL), cost);
        _settleDeal(DEAL, 2, _one(dev1), _one(50), true);
        StorageDeals.Deal memory d = deals.deal(DEAL);
        assertEq(uint8(d.status), uint8(StorageDeals.Status.Settled));
        assertEq(d.burned, 350);
        assertEq(d.refunded, cost - 350);
        assertEq(credits.balanceOf(alice), cost - 350);
        assertEq(credits.heldBy(alice, address(deals)), 0);
        {
            bytes memory sigs = _signDealSettlement(DEAL, 3, _one(dev1), _one(1), false);
            vm.expectRevert(abi.encodeWithSelector(StorageDeals.DealNotActive.selector, DEAL, StorageDeals.Status.Settled));
            deals.settle(DEAL, 3, _one(dev1), _one(1), false, sigs);
        }
    }

    function test_settlementNeedsAQuorumOfOracles() public {
        _open(alice, DEAL);
        uint256 dev = _register(0xD1, bob, STORAGE, 0);
        vm.warp(block.timestamp + 1 days);
        StorageDeals.Deal memory d = deals.deal(DEAL);
        bytes32 digest = deals.settlementDigest(DEAL, d.consumer, d.network, 1, _one(dev), _one(1), false);
        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.QuorumNotMet.selector, 1, 2));
        deals.settle(DEAL, 1, _one(dev), _one(1), false, _signDigest(_quorumKeys(1), digest));
        uint256[] memory strangers = new uint256[](2);
        strangers[0] = 0xBAD1;
        strangers[1] = 0xBAD2;
        vm.expectRevert();
        deals.settle(DEAL, 1, _one(dev), _one(1), false, _signDigest(strangers, digest));
        // Signatures over other amounts do not carry over.
        bytes memory sigs = _signDigest(_quorumKeys(2), digest);
        vm.expectRevert();
        deals.settle(DEAL, 1, _one(dev), _one(2), false, sigs);
        deals.settle(DEAL, 1, _one(dev), _one(1), false, sigs);
    }

    function test_terminateStopsAccrualAndTheFinalSettlementRefunds() public {
        uint256 cost = _open(alice, DEAL);
        uint256 dev = _register(0xD1, bob, STORAGE, 0);
        vm.warp(block.timestamp + DURATION / 4);
        vm.expectRevert(abi.encodeWithSelector(StorageDeals.NotConsumer.selector, DEAL, bob, alice));
        vm.prank(bob);
        deals.terminate(DEAL);
        vm.prank(alice);
        deals.terminate(DEAL);
        vm.expectRevert(abi.encodeWithSelector(StorageDeals.AlreadyTerminated.selector, DEAL));
        vm.prank(alice);
        deals.terminate(DEAL);
        uint256 quarter = cost / 4;
        vm.warp(block.timestamp + DURATION);
        assertEq(deals.accrued(DEAL), quarter, "accrual stopped at the termination");
        {
            bytes memory sigs = _signDealSettlement(DEAL, 1, _one(dev), _one(quarter + 1), true);
            vm.expectRevert(abi.encodeWithSelector(StorageDeals.ExceedsAccrued.selector, DEAL, quarter + 1, quarter));
            deals.settle(DEAL, 1, _one(dev), _one(quarter + 1), true, sigs);
        }
        _settleDeal(DEAL, 1, _one(dev), _one(quarter), true);
        assertEq(credits.balanceOf(alice), cost - quarter);
    }

    function test_reclaimAfterGraceWhenTheOracleIsSilent() public {
        uint256 cost = _open(alice, DEAL);
        uint256 dev = _register(0xD1, bob, STORAGE, 0);
        vm.warp(block.timestamp + DURATION / 2);
        _settleDeal(DEAL, 1, _one(dev), _one(10), false);
        uint256 at = deals.reclaimableAt(DEAL);
        assertEq(at, deals.deal(DEAL).end + SETTLEMENT_GRACE);
        vm.warp(at - 1);
        vm.expectRevert(abi.encodeWithSelector(StorageDeals.ReclaimTooEarly.selector, DEAL, at, at - 1));
        vm.prank(alice);
        deals.reclaim(DEAL);
        vm.warp(at);
        vm.expectRevert(abi.encodeWithSelector(StorageDeals.NotConsumer.selector, DEAL, bob, alice));
        vm.prank(bob);
        deals.reclaim(DEAL);
        vm.prank(alice);
        deals.reclaim(DEAL);
        assertEq(credits.balanceOf(alice), cost - 10);
        assertEq(uint8(deals.deal(DEAL).status), uint8(StorageDeals.Status.Reclaimed));
        {
            bytes memory sigs = _signDealSettlement(DEAL, 2, _one(dev), _one(1), true);
            vm.expectRevert(abi.encodeWithSelector(StorageDeals.DealNotActive.selector, DEAL, StorageDeals.Status.Reclaimed));
            deals.settle(DEAL, 2, _one(dev), _one(1), true, sigs);
        }
    }

    function test_pricesAndGraceAreGovernance() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, bytes32(0))
        );
        vm.prank(alice);
        deals.setPrice(STORAGE, 1);
        vm.prank(address(timelock));
        deals.setPrice(STORAGE, 2 * STORAGE_PRICE);
        assertEq(deals.pricePerByteSecond(STORAGE), 2 * STORAGE_PRICE);
        vm.prank(address(timelock));
        vm.expectRevert(abi.encodeWithSelector(StorageDeals.SettlementGraceTooLong.selector, 91 days, 90 days));
        deals.setSettlementGrace(91 days);
    }

    function test_creditsOnlyMoveThroughTheEscrowRole() public {
        _open(alice, DEAL);
        vm.expectRevert();
        vm.prank(bob);
        credits.releaseHeld(alice, 1);
        assertTrue(credits.hasRole(credits.ESCROW_ROLE(), address(deals)));
        ServiceCredits c = deals.credits();
        assertEq(address(c), address(credits));
    }
}
