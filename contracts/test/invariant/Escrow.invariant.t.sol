// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {Base} from "../utils/Base.t.sol";
import {CreditEscrow} from "../../src/credits/CreditEscrow.sol";
import {ServiceCredits} from "../../src/credits/ServiceCredits.sol";
import {SettablePriceFeed} from "../../src/credits/SettablePriceFeed.sol";
import {GroundworkToken} from "../../src/token/GroundworkToken.sol";

/// @dev Consumers buy credits and open jobs; the oracle quorum settles them (in order, out of
/// order, replayed, over-budget, final or not); consumers cancel and reclaim, on time or too
/// early; strangers try to cancel, reclaim and move held credits. Ghosts book what should happen.
contract EscrowHandler is Test {
    bytes32 internal constant UPTIME = keccak256("uptime");
    uint256 internal constant DEVICES = 4;

    CreditEscrow internal immutable escrow;
    ServiceCredits internal immutable credits;
    GroundworkToken internal immutable token;
    SettablePriceFeed internal immutable feed;
    address internal immutable treasury;
    uint256[] internal keys;

    address[3] public consumers;
    address public stranger = makeAddr("stranger");
    bytes32[] public jobs;

    // ghosts, per consumer
    mapping(address => uint256) public minted;
    mapping(address => uint256) public escrowedBy;
    mapping(address => uint256) public refundedTo;
    mapping(address => uint256) public burnedFrom;
    // ghosts, per job and device
    mapping(bytes32 => uint256) public gEscrowed;
    mapping(bytes32 => uint256) public gBurned;
    mapping(bytes32 => uint256) public gRefunded;
    mapping(uint256 => uint256) public gDevice;
    mapping(bytes32 => bytes) internal lastSettlement;
    uint256 public totalMinted;
    uint256 public totalBurned;

    // violations: each must stay 0
    uint256 public replaysPaid;
    uint256 public overBudgetPaid;
    uint256 public strangerSucceeded;
    uint256 public earlyReclaims;

    uint256 public opens;
    uint256 public settles;
    uint256 public closes;
    uint256 public cancels;

    constructor(
        CreditEscrow e,
        ServiceCredits c,
        GroundworkToken t,
        SettablePriceFeed f,
        address treasury_,
        uint256[] memory k
    ) {
        escrow = e;
        credits = c;
        token = t;
        feed = f;
        treasury = treasury_;
        keys = k;
        for (uint256 i; i < 3; ++i) {
            consumers[i] = makeAddr(string.concat("consumer", vm.toString(i)));
        }
    }

    function _consumer(uint256 seed) internal view returns (address) {
        return consumers[seed % 3];
    }

    function _job(uint256 seed) internal view returns (bytes32 id, bool ok) {
        if (jobs.length == 0) return (bytes32(0), false);
        return (jobs[seed % jobs.length], true);
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
        vm.warp(block.timestamp + bound(secs, 1, 2 days));
    }

    function buy(uint256 who, uint256 tokens) external {
        _buy(_consumer(who), bound(tokens, 1e13, 10 ether));
    }

    function open(uint256 who, uint256 amount, uint256 duration) external {
        address c = _consumer(who);
        if (credits.balanceOf(c) == 0) _buy(c, 1 ether);
        amount = bound(amount, 1, credits.balanceOf(c));
        bytes32 id = keccak256(abi.encode(c, jobs.length));
        uint64 deadline = uint64(block.timestamp + bound(duration, 1, 3 days));
        vm.prank(c);
        escrow.open(UPTIME, id, amount, deadline);
        jobs.push(id);
        gEscrowed[id] = amount;
        escrowedBy[c] += amount;
        opens++;
    }

    /// Up to `n` device lines that together stay within `held` (unless `overBudget`).
    function _lines(uint256 n, uint256[4] memory parts, uint256 held, bool overBudget)
        internal
        pure
        returns (uint256[] memory ids, uint256[] memory amounts, uint256 total)
    {
        ids = new uint256[](n);
        amounts = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            ids[i] = 1 + (parts[i] % DEVICES);
            uint256 room = held > total ? held - total : 0;
            amounts[i] = bound(parts[i], 1, room / n + 1);
            total += amounts[i];
        }
        if (overBudget && n > 0) {
            amounts[0] += held + 1;
            total += held + 1;
        }
    }

    function _signed(bytes32 id, uint64 seq, uint256[] memory ids, uint256[] memory amounts, bool isFinal)
        internal
        view
        returns (bytes memory data)
    {
        CreditEscrow.Job memory j = escrow.job(id);
        bytes32 digest = escrow.settlementDigest(id, j.consumer, j.network, seq, ids, amounts, isFinal);
        bytes memory sigs;
        for (uint256 i; i < keys.length; ++i) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(keys[i], digest);
            sigs = bytes.concat(sigs, r, s, bytes1(v));
        }
        data = abi.encodeCall(CreditEscrow.settle, (id, seq, ids, amounts, isFinal, sigs));
    }

    /// The quorum signs settlement `seq` (usually the right next one) for up to `n` devices.
    function settle(uint256 jobSeed, uint256 n, uint256[4] memory parts, uint8 flags) external {
        (bytes32 id, bool ok) = _job(jobSeed);
        if (!ok) return;
        CreditEscrow.Job memory j = escrow.job(id);
        uint64 seq = j.seq + 1;
        if (flags % 8 == 0) seq = j.seq + 2; // out of order
        if (flags % 8 == 1 && j.seq > 0) seq = j.seq; // same number again
        bool isFinal = flags % 3 == 0;
        uint256 held = escrow.heldFor(id);
        (uint256[] memory ids, uint256[] memory amounts, uint256 total) =
            _lines(bound(n, isFinal ? 0 : 1, DEVICES), parts, held, flags % 16 == 5);
        bytes memory data = _signed(id, seq, ids, amounts, isFinal);
        (bool success,) = address(escrow).call(data);
        if (!success) return;
        if (total > held || seq != j.seq + 1) overBudgetPaid++;
        settles++;
        lastSettlement[id] = data;
        gBurned[id] += total;
        burnedFrom[j.consumer] += total;
        totalBurned += total;
        for (uint256 i; i < ids.length; ++i) {
            gDevice[ids[i]] += amounts[i];
        }
        if (isFinal) {
            gRefunded[id] += held - total;
            refundedTo[j.consumer] += held - total;
            closes++;
        }
    }

    /// Anyone resubmits the last settlement that was applied: it must never apply again.
    function replay(uint256 jobSeed) external {
        (bytes32 id, bool ok) = _job(jobSeed);
        if (!ok || lastSettlement[id].length == 0) return;
        vm.prank(stranger);
        (bool success,) = address(escrow).call(lastSettlement[id]);
        if (success) replaysPaid++;
    }

    function cancel(uint256 jobSeed, bool asStranger) external {
        (bytes32 id, bool ok) = _job(jobSeed);
        if (!ok) return;
        address c = escrow.job(id).consumer;
        vm.prank(asStranger ? stranger : c);
        try escrow.cancel(id) {
            if (asStranger) strangerSucceeded++;
            cancels++;
        } catch {}
    }

    function reclaim(uint256 jobSeed, bool asStranger) external {
        (bytes32 id, bool ok) = _job(jobSeed);
        if (!ok) return;
        CreditEscrow.Job memory j = escrow.job(id);
        uint256 held = escrow.heldFor(id);
        bool early = j.status != CreditEscrow.Status.None && block.timestamp < escrow.reclaimableAt(id);
        vm.prank(asStranger ? stranger : j.consumer);
        try escrow.reclaim(id) {
            if (asStranger) strangerSucceeded++;
            if (early) earlyReclaims++;
            gRefunded[id] += held;
            refundedTo[j.consumer] += held;
            closes++;
        } catch {}
    }

    /// A stranger (no role) tries to hold, release or burn a consumer's credits directly.
    function strangerMovesCredits(uint256 who, uint256 amount, uint256 which) external {
        address c = _consumer(who);
        amount = bound(amount, 1, 1e9);
        vm.startPrank(stranger);
        bool success;
        if (which % 3 == 0) (success,) = address(credits).call(abi.encodeCall(ServiceCredits.hold, (c, amount)));
        if (which % 3 == 1) {
            (success,) = address(credits).call(abi.encodeCall(ServiceCredits.releaseHeld, (c, amount)));
        }
        if (which % 3 == 2) {
            uint256[] memory one = new uint256[](1);
            one[0] = amount;
            (success,) = address(credits).call(abi.encodeCall(ServiceCredits.spendHeld, (c, UPTIME, one, one)));
        }
        vm.stopPrank();
        if (success) strangerSucceeded++;
    }

    function jobCount() external view returns (uint256) {
        return jobs.length;
    }

    function consumer(uint256 i) external view returns (address) {
        return consumers[i];
    }
}

contract EscrowInvariantTest is Base {
    EscrowHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new EscrowHandler(escrow, credits, token, feed, treasury, _quorumKeys(2));
        feed.transferOwnership(address(handler));
        targetContract(address(handler));
    }

    /// The campaign must have opened and settled jobs, or the invariants prove little.
    function afterInvariant() external view {
        assertGt(handler.opens(), 0, "no job opened");
    }

    /// For each job: escrowed = burned + refunded + held, as the ghosts booked it; closed jobs
    /// hold nothing; and everything held for jobs is what ServiceCredits holds for the escrow.
    function invariant_EscrowedIsBurnedPlusRefundedPlusHeld() public view {
        uint256 held;
        for (uint256 i; i < handler.jobCount(); ++i) {
            bytes32 id = handler.jobs(i);
            CreditEscrow.Job memory j = escrow.job(id);
            uint256 h = escrow.heldFor(id);
            assertEq(j.escrowed, uint256(j.burned) + j.refunded + h, "escrowed != burned + refunded + held");
            assertEq(j.escrowed, handler.gEscrowed(id), "escrowed ghost");
            assertEq(j.burned, handler.gBurned(id), "burned ghost");
            assertEq(j.refunded, handler.gRefunded(id), "refunded ghost");
            if (j.status == CreditEscrow.Status.Settled || j.status == CreditEscrow.Status.Reclaimed) {
                assertEq(h, 0, "a closed job still holds credits");
            }
            held += h;
        }
        assertEq(held, credits.totalHeld(), "sum over jobs != totalHeld");
        uint256 heldByEscrow;
        for (uint256 i; i < 3; ++i) {
            heldByEscrow += credits.heldBy(handler.consumer(i), address(escrow));
        }
        assertEq(heldByEscrow, held, "sum of heldBy != sum over jobs");
    }

    /// No account's credits increase but by a mint or a refund of its own escrow, and none
    /// decrease but into its own escrow: credits never change hands.
    function invariant_NoCreditsChangeHands() public view {
        uint256 balances;
        for (uint256 i; i < 3; ++i) {
            address c = handler.consumer(i);
            assertEq(
                credits.balanceOf(c),
                handler.minted(c) + handler.refundedTo(c) - handler.escrowedBy(c),
                "balance != minted + refunded - escrowed"
            );
            assertEq(
                credits.balanceOf(c) + credits.heldBy(c, address(escrow)),
                handler.minted(c) - handler.burnedFrom(c),
                "own credits != minted - burned"
            );
            balances += credits.balanceOf(c);
        }
        assertEq(credits.balanceOf(handler.stranger()), 0, "a stranger got credits");
        assertEq(credits.totalSupply(), balances + credits.totalHeld(), "supply != balances + held");
        assertEq(credits.totalSupply(), handler.totalMinted() - handler.totalBurned(), "supply != minted - burned");
    }

    /// Every burned credit was recorded against the device the quorum named.
    function invariant_UsageRecordedPerDevice() public view {
        uint256 sum;
        for (uint256 d = 1; d <= 4; ++d) {
            assertEq(credits.spentOnDevice(d), handler.gDevice(d), "device usage ghost");
            sum += credits.spentOnDevice(d);
        }
        assertEq(sum, handler.totalBurned());
        assertEq(credits.spentOnNetwork(keccak256("uptime")), handler.totalBurned());
    }

    /// Replays, out-of-order and over-budget settlements, early reclaims and strangers all fail.
    function invariant_NoForbiddenTransitions() public view {
        assertEq(handler.replaysPaid(), 0, "a settlement applied twice");
        assertEq(handler.overBudgetPaid(), 0, "an out-of-order or over-budget settlement applied");
        assertEq(handler.strangerSucceeded(), 0, "a stranger moved credits or changed a job");
        assertEq(handler.earlyReclaims(), 0, "a reclaim before the grace ended");
    }
}
