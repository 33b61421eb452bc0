// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {Base} from "../utils/Base.t.sol";
import {DeviceRegistry} from "../../src/registry/DeviceRegistry.sol";
import {SlashOrders} from "../../src/registry/SlashOrders.sol";
import {GroundworkToken} from "../../src/token/GroundworkToken.sol";

/// @dev The oracle quorum proposes slash orders; the guardian vetoes some; anyone executes (on
/// time, too early, twice, after a veto); owners unstake, withdraw and top up meanwhile.
contract SlashHandler is Test {
    SlashOrders internal immutable orders;
    DeviceRegistry internal immutable registry;
    GroundworkToken internal immutable token;
    address internal immutable guardian;
    address internal immutable treasury;
    uint256[] internal keys;

    uint256[] public devices;
    mapping(uint256 => address) public ownerOf;
    bytes32[] public ids;
    mapping(bytes32 => uint256) public executableAt;
    mapping(bytes32 => bool) public vetoed;
    mapping(bytes32 => uint256) public executions;
    uint64 public nextEpoch;
    uint256 public slashed; // ghost: token taken from stakes by executions

    // violations: each must stay 0
    uint256 public earlyExecutions;
    uint256 public vetoedExecutions;
    uint256 public repeatExecutions;
    uint256 public replayedProposals;
    uint256 public strangerVetoes;

    uint256 public proposals;
    uint256 public vetoes;
    uint256 public executed;

    constructor(
        SlashOrders o,
        DeviceRegistry r,
        GroundworkToken t,
        address guardian_,
        address treasury_,
        uint256[] memory k,
        uint256[] memory devices_,
        address[] memory owners
    ) {
        orders = o;
        registry = r;
        token = t;
        guardian = guardian_;
        treasury = treasury_;
        keys = k;
        for (uint256 i; i < devices_.length; ++i) {
            devices.push(devices_[i]);
            ownerOf[devices_[i]] = owners[i];
        }
    }

    function _sign(uint64 epoch, uint256 device, uint256 amount, bytes32 evidence, bytes32 artifact)
        internal
        view
        returns (bytes memory sigs)
    {
        bytes32 digest = orders.orderDigest(epoch, device, amount, evidence, artifact);
        for (uint256 i; i < keys.length; ++i) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(keys[i], digest);
            sigs = bytes.concat(sigs, r, s, bytes1(v));
        }
    }

    function _stakeOf(uint256 device) internal view returns (uint256) {
        DeviceRegistry.Device memory d = registry.device(device);
        return uint256(d.stake) + d.unstaking;
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 1, 2 days));
    }

    function propose(uint256 deviceSeed, uint256 amount, uint256 evidenceSeed) external {
        uint256 device = devices[deviceSeed % devices.length];
        amount = bound(amount, 1, 200 ether);
        uint64 epoch = nextEpoch++;
        bytes32 evidence = keccak256(abi.encode("evidence", evidenceSeed));
        bytes32 artifact = keccak256(abi.encode("artifact", epoch));
        bytes memory sigs = _sign(epoch, device, amount, evidence, artifact);
        bytes32 id = orders.propose(epoch, device, amount, evidence, artifact, sigs);
        ids.push(id);
        executableAt[id] = block.timestamp + orders.challengeWindow();
        proposals++;
        // the very same order, signed again, can never be proposed a second time
        try orders.propose(epoch, device, amount, evidence, artifact, sigs) {
            replayedProposals++;
        } catch {}
    }

    function veto(uint256 seed, bool asStranger) external {
        if (ids.length == 0) return;
        bytes32 id = ids[seed % ids.length];
        vm.prank(asStranger ? ownerOf[devices[0]] : guardian);
        try orders.veto(id) {
            if (asStranger) strangerVetoes++;
            vetoed[id] = true;
            vetoes++;
        } catch {}
    }

    function execute(uint256 seed) external {
        if (ids.length == 0) return;
        bytes32 id = ids[seed % ids.length];
        uint256 device = orders.order(id).deviceId;
        uint256 before = _stakeOf(device);
        try orders.execute(id) {
            if (block.timestamp < executableAt[id]) earlyExecutions++;
            if (vetoed[id]) vetoedExecutions++;
            if (executions[id] > 0) repeatExecutions++;
            executions[id]++;
            slashed += before - _stakeOf(device);
            executed++;
        } catch {}
    }

    function unstake(uint256 deviceSeed, uint256 amount) external {
        uint256 device = devices[deviceSeed % devices.length];
        uint256 stake = registry.device(device).stake;
        if (stake == 0) return;
        vm.prank(ownerOf[device]);
        registry.requestUnstake(device, bound(amount, 1, stake));
    }

    function withdraw(uint256 deviceSeed) external {
        uint256 device = devices[deviceSeed % devices.length];
        vm.prank(ownerOf[device]);
        try registry.withdrawUnstaked(device) {} catch {}
    }

    function addStake(uint256 deviceSeed, uint256 amount) external {
        uint256 device = devices[deviceSeed % devices.length];
        amount = bound(amount, 1, 100 ether);
        address owner = ownerOf[device];
        vm.prank(treasury);
        token.transfer(owner, amount);
        vm.startPrank(owner);
        token.approve(address(registry), amount);
        registry.addStake(device, amount);
        vm.stopPrank();
    }

    function idCount() external view returns (uint256) {
        return ids.length;
    }

    function deviceCount() external view returns (uint256) {
        return devices.length;
    }
}

contract SlashInvariantTest is Base {
    SlashHandler internal handler;
    uint256 internal supplyAtStart;

    function setUp() public override {
        super.setUp();
        uint256[] memory ids = new uint256[](3);
        address[] memory owners = new address[](3);
        for (uint256 i; i < 3; ++i) {
            owners[i] = makeAddr(string.concat("operator", vm.toString(i)));
            ids[i] = _register(0xD1CE + i, owners[i], UPTIME, 0);
        }
        handler = new SlashHandler(slashOrders, registry, token, guardian, treasury, _quorumKeys(2), ids, owners);
        targetContract(address(handler));
        supplyAtStart = token.totalSupply();
    }

    function afterInvariant() external view {
        assertGt(handler.proposals(), 0, "no order proposed");
    }

    /// An order executes at most once, never before its window ends, never after a veto; a
    /// proposal can never be replayed; only the guardian vetoes.
    function invariant_ExecutesOnceAfterWindowUnlessVetoed() public view {
        assertEq(handler.earlyExecutions(), 0, "executed before the window ended");
        assertEq(handler.vetoedExecutions(), 0, "a vetoed order executed");
        assertEq(handler.repeatExecutions(), 0, "an order executed twice");
        assertEq(handler.replayedProposals(), 0, "an order was proposed twice");
        assertEq(handler.strangerVetoes(), 0, "a non-guardian vetoed");
        for (uint256 i; i < handler.idCount(); ++i) {
            bytes32 id = handler.ids(i);
            SlashOrders.Order memory o = slashOrders.order(id);
            uint256 n = handler.executions(id);
            assertLe(n, 1);
            bool done = o.status == SlashOrders.Status.Executed || o.status == SlashOrders.Status.Skipped;
            assertEq(done, n == 1, "status disagrees with executions");
            assertEq(o.status == SlashOrders.Status.Vetoed, handler.vetoed(id), "status disagrees with vetoes");
            assertEq(o.executableAt, handler.executableAt(id), "executableAt changed");
        }
    }

    /// Slashed stake is burned, never moved: the registry holds exactly the stakes, and the token
    /// supply fell by exactly what executions took.
    function invariant_SlashedStakeIsBurned() public view {
        uint256 stakes;
        for (uint256 i; i < handler.deviceCount(); ++i) {
            DeviceRegistry.Device memory d = registry.device(handler.devices(i));
            stakes += uint256(d.stake) + d.unstaking;
        }
        assertEq(token.balanceOf(address(registry)), stakes, "registry balance != stakes");
        assertEq(token.totalSupply(), supplyAtStart - handler.slashed(), "supply != start - slashed");
    }
}
