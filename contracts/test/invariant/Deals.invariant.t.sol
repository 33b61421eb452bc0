// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {Base} from "../utils/Base.t.sol";
import {StorageDeals} from "../../src/storage/StorageDeals.sol";
import {ServiceCredits} from "../../src/credits/ServiceCredits.sol";
import {SettablePriceFeed} from "../../src/credits/SettablePriceFeed.sol";
import {GroundworkToken} from "../../src/token/GroundworkToken.sol";

/// @dev Consumers open storage deals; time passes; the oracle quorum settles them (within what has
/// accrued, beyond it, out of order, replayed, final or not); consumers terminate and reclaim, on
/// time or too early; strangers try the same. Ghosts book what should happen.
contract DealsHandler is Test {
    bytes32 internal constant STORAGE = keccak256("storage");
    uint256 internal constant DEVICES = 4;

    StorageDeals internal immutable deals;
    ServiceCredits internal immutable credits;
    GroundworkToken internal immutable token;
    SettablePriceFeed internal immutable feed;
    address internal immutable treasury;
    uint256[] internal keys;

    address[3] public consumers;
    address public stranger = makeAddr("stranger");
    bytes32[] public dealIds;

    mapping(address => uint256) public minted;
    mapping(address => uint256) public escrowedBy;
    mapping(address => uint256) public refundedTo;
    mapping(address => uint256) public burnedFrom;
    mapping(bytes32 => uint256) public gBurned;
    mapping(bytes32 => uint256) public gRefunded;
    mapping(uint256 => uint256) public gDevice;
    mapping(bytes32 => bytes) internal lastSettlement;
    uint256 public totalMinted;
    uint256 public totalBurned;

    // violations: each must stay 0
    uint256 public replaysPaid;
    uint256 public paidAheadOfAccrual;
    uint256 public strangerSucceeded;
    uint256 public earlyReclaims;

    uint256 public opens;
    uint256 public settles;

    constructor(StorageDeals d, ServiceCredits c, GroundworkToken t, SettablePriceFeed f, address treasury_, uint256[] memory k) {
        deals = d;
        credits = c;
        token = t;
        feed = f;
        treasury = treasury_;
        keys = k;
        for (uint256 i; i < 3; ++i) {
            consumers[i] = makeAddr(string.concat("consumer", vm.toString(i)));
        }
    }

    function _deal(uint256 seed) internal view returns (bytes32 id, bool ok) {
        if (dealIds.length == 0) return (bytes32(0), false);
        return (dealIds[seed % dealIds.length], true);
    }

    function _buy(address who, uint256 tokens) internal {
        feed.setPrice(2e8);
        vm.prank(treasury);
        token.transfer(who, tokens);
        vm.startPrank(who);
        token.approve(address(credits), tokens);
        uint256 got = credits.mint(who, tokens, 0);
        vm.stopPrank();
        minted[who] += got;
        totalMinted += got;
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 1, 10 days));
    }

    function open(uint256 who, uint256 bytesStored, uint256 duration) external {
        address c = consumers[who % 3];
        bytesStored = bound(bytesStored, 1, 64 * 2 ** 40);
        duration = bound(duration, 1, 60 days);
        uint256 cost = deals.quote(STORAGE, bytesStored, duration);
        if (credits.balanceOf(c) < cost) _buy(c, 10 ether);
        if (credits.balanceOf(c) < cost) return;
        bytes32 id = keccak256(abi.encode(c, dealIds.length));
        vm.prank(c);
        // forge-lint: disable-next-line(unsafe-typecast) both bounded above
        deals.open(STORAGE, id, keccak256(abi.encode(id)), 8, uint64(bytesStored), uint64(duration), cost);
        dealIds.push(id);
        escrowedBy[c] += cost;
        opens++;
    }

    function _signed(bytes32 id, uint64 seq, uint256[] memory ids, uint256[] memory amounts, bool isFinal)
        internal
        view
        returns (bytes memory)
    {
        StorageDeals.Deal memory d = deals.deal(id);
        bytes32 digest = deals.settlementDigest(id, d.consumer, d.network, seq, ids, amounts, isFinal);
        bytes memory sigs;
        for (uint256 i; i < keys.length; ++i) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(keys[i], digest);
            sigs = bytes.concat(sigs, r, s, bytes1(v));
        }
        return abi.encodeCall(StorageDeals.settle, (id, seq, ids, amounts, isFinal, sigs));
    }

    function _lines(uint256 n, uint256[4] memory parts, uint256 room)
        internal
        pure
        returns (uint256[] memory ids, uint256[] memory amounts, uint256 total)
    {
        ids = new uint256[](n);
        amounts = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            ids[i] = 1 + (parts[i] % DEVICES);
            amounts[i] = bound(parts[i], 1, room / n + 1);
            total += amounts[i];
        }
    }

    /// The quorum signs settlement `seq` for up to `n` devices, usually within what has accrued.
    function settle(uint256 dealSeed, uint256 n, uint256[4] memory parts, uint8 flags) external {
        (bytes32 id, bool ok) = _deal(dealSeed);
        if (!ok) return;
        StorageDeals.Deal memory d = deals.deal(id);
        if (d.status != StorageDeals.Status.Active && d.status != StorageDeals.Status.Terminated) return;
        // Let storage accrue first, so most settlements have something to pay.
        if (deals.accrued(id) == d.burned) vm.warp(block.timestamp + 1 + parts[1] % 5 days);
        uint64 seq = d.seq + 1;
        if (flags % 8 == 0) seq = d.seq + 2;
        bool isFinal = flags % 3 == 0;
        uint256 room = deals.accrued(id) - d.burned;
        if (flags % 16 == 5) room += 1 + parts[0] % 1000; // beyond what accrued
        (uint256[] memory ids, uint256[] memory amounts, uint256 total) =
            _lines(bound(n, isFinal ? 0 : 1, DEVICES), parts, room);
        uint256 held = deals.heldFor(id);
        uint256 accruedNow = deals.accrued(id);
        bytes memory data = _signed(id, seq, ids, amounts, isFinal);
        (bool success,) = address(deals).call(data);
        if (!success) return;
        if (d.burned + total > accruedNow || seq != d.seq + 1) paidAheadOfAccrual++;
        settles++;
        lastSettlement[id] = data;
        gBurned[id] += total;
        burnedFrom[d.consumer] += total;
        totalBurned += total;
        for (uint256 i; i < ids.length; ++i) {
            gDevice[ids[i]] += amounts[i];
        }
        if (isFinal) {
            gRefunded[id] += held - total;
            refundedTo[d.consumer] += held - total;
        }
    }

    function replay(uint256 dealSeed) external {
        (bytes32 id, bool ok) = _deal(dealSeed);
        if (!ok || lastSettlement[id].length == 0) return;
        vm.prank(stranger);
        (bool success,) = address(deals).call(lastSettlement[id]);
        if (success) replaysPaid++;
    }

    function terminate(uint256 dealSeed, bool asStranger) external {
        (bytes32 id, bool ok) = _deal(dealSeed);
        if (!ok) return;
        vm.prank(asStranger ? stranger : deals.deal(id).consumer);
        try deals.terminate(id) {
            if (asStranger) strangerSucceeded++;
        } catch {}
    }

    function reclaim(uint256 dealSeed, bool asStranger) external {
        (bytes32 id, bool ok) = _deal(dealSeed);
        if (!ok) return;
        StorageDeals.Deal memory d = deals.deal(id);
        uint256 held = deals.heldFor(id);
        bool early = block.timestamp < deals.reclaimableAt(id);
        vm.prank(asStranger ? stranger : d.consumer);
        try deals.reclaim(id) {
            if (asStranger) strangerSucceeded++;
            if (early) earlyReclaims++;
            gRefunded[id] += held;
            refundedTo[d.consumer] += held;
        } catch {}
    }

    function dealCount() external view returns (uint256) {
        return dealIds.length;
    }
}

contract DealsInvariantTest is Base {
    DealsHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new DealsHandler(deals, credits, token, feed, treasury, _quorumKeys(2));
        feed.transferOwnership(address(handler));
        targetContract(address(handler));
    }

    function afterInvariant() external view {
        assertGt(handler.opens(), 0, "no deal opened");
    }

    /// For each deal: escrowed = burned + refunded + held, burned never above what has accrued,
    /// closed deals hold nothing, and the sum held is what ServiceCredits holds for the contract.
    function invariant_EscrowedIsReleasedPlusRefundedPlusHeld() public view {
        uint256 held;
        for (uint256 i; i < handler.dealCount(); ++i) {
            bytes32 id = handler.dealIds(i);
            StorageDeals.Deal memory d = deals.deal(id);
            uint256 h = deals.heldFor(id);
            assertEq(d.escrowed, uint256(d.burned) + d.refunded + h, "escrowed != burned + refunded + held");
            assertLe(d.burned, deals.accrued(id), "released more than accrued");
            assertEq(d.burned, handler.gBurned(id), "burned ghost");
            assertEq(d.refunded, handler.gRefunded(id), "refunded ghost");
            assertEq(d.escrowed, deals.quote(d.network, d.bytesStored, d.end - d.start), "escrow != price x bytes x time");
            if (d.status == StorageDeals.Status.Settled || d.status == StorageDeals.Status.Reclaimed) {
                assertEq(h, 0, "a closed deal still holds credits");
            }
            held += h;
        }
        uint256 heldByDeals;
        for (uint256 i; i < 3; ++i) {
            heldByDeals += credits.heldBy(handler.consumers(i), address(deals));
        }
        assertEq(heldByDeals, held, "sum of heldBy != sum over deals");
        assertEq(credits.totalHeld(), held, "totalHeld");
    }

    function invariant_CreditsNeverChangeHands() public view {
        uint256 balances;
        for (uint256 i; i < 3; ++i) {
            address c = handler.consumers(i);
            assertEq(
                credits.balanceOf(c), handler.minted(c) + handler.refundedTo(c) - handler.escrowedBy(c), "balance ghost"
            );
            assertEq(
                credits.balanceOf(c) + credits.heldBy(c, address(deals)),
                handler.minted(c) - handler.burnedFrom(c),
                "own credits != minted - burned"
            );
            balances += credits.balanceOf(c);
        }
        assertEq(credits.totalSupply(), balances + credits.totalHeld(), "supply != balances + held");
        assertEq(credits.totalSupply(), handler.totalMinted() - handler.totalBurned(), "supply != minted - burned");
    }

    function invariant_ReleasesRecordedPerDevice() public view {
        uint256 sum;
        for (uint256 d = 1; d <= 4; ++d) {
            assertEq(credits.spentOnDevice(d), handler.gDevice(d), "device usage ghost");
            sum += credits.spentOnDevice(d);
        }
        assertEq(sum, handler.totalBurned());
        assertEq(credits.spentOnNetwork(keccak256("storage")), handler.totalBurned());
    }

    function invariant_NoForbiddenTransitions() public view {
        assertEq(handler.replaysPaid(), 0, "a settlement applied twice");
        assertEq(handler.paidAheadOfAccrual(), 0, "an out-of-order or ahead-of-accrual settlement applied");
        assertEq(handler.strangerSucceeded(), 0, "a stranger changed a deal");
        assertEq(handler.earlyReclaims(), 0, "a reclaim before the grace ended");
    }
}
