// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {DeviceRegistry} from "../src/registry/DeviceRegistry.sol";
import {SlashOrders} from "../src/registry/SlashOrders.sol";
import {IOracleSet} from "../src/interfaces/IOracleSet.sol";
import {OracleQuorum} from "../src/utils/OracleQuorum.sol";
import {Base} from "./utils/Base.t.sol";

contract SlashOrdersTest is Base {
    bytes32 internal constant EVIDENCE = keccak256("evidence: forged uptime reports");
    bytes32 internal constant ARTIFACT = keccak256("artifact of epoch 3");
    uint64 internal constant EPOCH_3 = 3;
    uint256 internal constant AMOUNT = 40 ether;

    uint256 internal device;

    function setUp() public override {
        super.setUp();
        device = _register(0xD1CE, bob, UPTIME, 0);
    }

    function _stake(uint256 id) internal view returns (uint256 stake, uint256 unstaking) {
        DeviceRegistry.Device memory d = registry.device(id);
        return (d.stake, d.unstaking);
    }

    // ------------------------------------------------------------------ propose

    function test_ProposeStoresPendingOrder() public {
        bytes32 id = slashOrders.orderId(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT);
        assertEq(
            id,
            keccak256(abi.encode(slashOrders.SLASH_ORDER_TYPEHASH(), EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT)),
            "the id is the EIP-712 struct hash"
        );
        vm.expectEmit(address(slashOrders));
        emit SlashOrders.SlashProposed(
            id, EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT, block.timestamp + SLASH_WINDOW
        );
        bytes32 got = _proposeSlash(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT);
        assertEq(got, id);
        SlashOrders.Order memory o = slashOrders.order(id);
        assertEq(o.deviceId, device);
        assertEq(o.evidenceHash, EVIDENCE);
        assertEq(o.amount, AMOUNT);
        assertEq(o.executableAt, block.timestamp + SLASH_WINDOW);
        assertEq(uint8(o.status), uint8(SlashOrders.Status.Pending));
        (uint256 stake,) = _stake(device);
        assertEq(stake, MIN_STAKE, "proposing slashes nothing");
    }

    function test_RevertWhen_ProposeInvalid() public {
        bytes memory none;
        vm.expectRevert(abi.encodeWithSelector(SlashOrders.ZeroAmount.selector, "amount"));
        slashOrders.propose(EPOCH_3, device, 0, EVIDENCE, ARTIFACT, none);
        vm.expectRevert(abi.encodeWithSelector(SlashOrders.ZeroHash.selector, "evidenceHash"));
        slashOrders.propose(EPOCH_3, device, AMOUNT, bytes32(0), ARTIFACT, none);
        vm.expectRevert(abi.encodeWithSelector(SlashOrders.ZeroHash.selector, "artifactHash"));
        slashOrders.propose(EPOCH_3, device, AMOUNT, EVIDENCE, bytes32(0), none);
        bytes memory sigs = _signSlash(_quorumKeys(2), EPOCH_3, 12345, AMOUNT, EVIDENCE, ARTIFACT);
        vm.expectRevert(abi.encodeWithSelector(SlashOrders.UnknownDevice.selector, 12345));
        slashOrders.propose(EPOCH_3, 12345, AMOUNT, EVIDENCE, ARTIFACT, sigs);
        uint256 huge = uint256(type(uint128).max) + 1;
        sigs = _signSlash(_quorumKeys(2), EPOCH_3, device, huge, EVIDENCE, ARTIFACT);
        vm.expectRevert(); // SafeCast: an amount no stake (a uint128) can hold
        slashOrders.propose(EPOCH_3, device, huge, EVIDENCE, ARTIFACT, sigs);
    }

    function test_RevertWhen_ProposedTwice() public {
        bytes32 id = _proposeSlash(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT);
        bytes memory sigs = _signSlash(oracleKeys, EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT);
        vm.expectRevert(abi.encodeWithSelector(SlashOrders.OrderExists.selector, id, SlashOrders.Status.Pending));
        slashOrders.propose(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT, sigs);
        // an executed order cannot be proposed again either
        vm.warp(block.timestamp + SLASH_WINDOW);
        slashOrders.execute(id);
        vm.expectRevert(abi.encodeWithSelector(SlashOrders.OrderExists.selector, id, SlashOrders.Status.Executed));
        slashOrders.propose(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT, sigs);
    }

    function test_RevertWhen_ProposeWithoutQuorum() public {
        bytes32 digest = slashOrders.orderDigest(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT);
        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.QuorumNotMet.selector, 1, 2));
        slashOrders.propose(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT, _signDigest(_quorumKeys(1), digest));
        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.SignatureLength.selector, 131));
        slashOrders.propose(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT, new bytes(131));
        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.InvalidSignature.selector, 0));
        slashOrders.propose(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT, new bytes(130));
        uint256[] memory reversed = new uint256[](2);
        reversed[0] = oracleKeys[2];
        reversed[1] = oracleKeys[0];
        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.SignersNotSorted.selector, 1));
        slashOrders.propose(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT, _signDigest(reversed, digest));
        uint256[] memory withStranger = new uint256[](2);
        withStranger[0] = oracleKeys[0];
        withStranger[1] = 0xBAD;
        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.NotOracle.selector, vm.addr(0xBAD), 1));
        slashOrders.propose(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT, _signDigest(withStranger, digest));
    }

    /// The quorum signed these fields: a relayer cannot raise the amount or swap the evidence.
    function test_RevertWhen_FieldsDifferFromSigned() public {
        bytes memory sigs = _signSlash(_quorumKeys(2), EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT);
        vm.expectRevert();
        slashOrders.propose(EPOCH_3, device, AMOUNT + 1, EVIDENCE, ARTIFACT, sigs);
        vm.expectRevert();
        slashOrders.propose(EPOCH_3, device, AMOUNT, keccak256("other"), ARTIFACT, sigs);
        vm.expectRevert();
        slashOrders.propose(EPOCH_3 + 1, device, AMOUNT, EVIDENCE, ARTIFACT, sigs);
        vm.expectRevert();
        slashOrders.propose(EPOCH_3, device, AMOUNT, EVIDENCE, keccak256("other"), sigs);
        slashOrders.propose(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT, sigs);
    }

    // ------------------------------------------------------------------ execute

    function test_ExecuteAfterWindowSlashesWithEvidence() public {
        bytes32 id = _proposeSlash(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT);
        uint256 at = block.timestamp + SLASH_WINDOW;
        vm.warp(at - 1);
        vm.expectRevert(abi.encodeWithSelector(SlashOrders.ChallengeWindowNotOver.selector, id, at, at - 1));
        slashOrders.execute(id);

        vm.warp(at);
        uint256 supply = token.totalSupply();
        vm.expectEmit(address(registry));
        emit DeviceRegistry.DeviceSlashed(device, address(slashOrders), AMOUNT, AMOUNT, EVIDENCE);
        vm.expectEmit(address(slashOrders));
        emit SlashOrders.SlashExecuted(id, device, AMOUNT, EVIDENCE);
        vm.prank(makeAddr("keeper"));
        slashOrders.execute(id);
        (uint256 stake,) = _stake(device);
        assertEq(stake, MIN_STAKE - AMOUNT);
        assertEq(token.totalSupply(), supply - AMOUNT, "slashed stake is burned");
        assertEq(uint8(slashOrders.order(id).status), uint8(SlashOrders.Status.Executed));

        vm.expectRevert(abi.encodeWithSelector(SlashOrders.OrderNotPending.selector, id, SlashOrders.Status.Executed));
        slashOrders.execute(id);
        (stake,) = _stake(device);
        assertEq(stake, MIN_STAKE - AMOUNT, "once only");
    }

    function test_ExecuteSlashesUnstakingToo() public {
        vm.prank(bob);
        registry.requestUnstake(device, 80 ether);
        bytes32 id = _proposeSlash(EPOCH_3, device, 50 ether, EVIDENCE, ARTIFACT);
        vm.warp(block.timestamp + SLASH_WINDOW);
        slashOrders.execute(id);
        (uint256 stake, uint256 unstaking) = _stake(device);
        assertEq(stake, 0);
        assertEq(unstaking, 50 ether);
    }

    function test_ExecuteTakesWhatIsLeft() public {
        bytes32 id = _proposeSlash(EPOCH_3, device, 1000 ether, EVIDENCE, ARTIFACT);
        vm.warp(block.timestamp + SLASH_WINDOW);
        vm.expectEmit(address(registry));
        emit DeviceRegistry.DeviceSlashed(device, address(slashOrders), 1000 ether, MIN_STAKE, EVIDENCE);
        slashOrders.execute(id);
        (uint256 stake, uint256 unstaking) = _stake(device);
        assertEq(stake + unstaking, 0);
    }

    /// A device with no stake left: the order is spent with SlashSkipped, not left pending to hit
    /// whoever stakes the device next.
    function test_ExecuteSkipsWhenNothingLeftToSlash() public {
        vm.startPrank(bob);
        registry.requestUnstake(device, MIN_STAKE);
        vm.warp(block.timestamp + UNSTAKE_DELAY);
        registry.withdrawUnstaked(device);
        vm.stopPrank();
        bytes32 id = _proposeSlash(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT);
        vm.warp(block.timestamp + SLASH_WINDOW);
        vm.expectEmit(address(slashOrders));
        emit SlashOrders.SlashSkipped(id, device, EVIDENCE);
        slashOrders.execute(id);
        assertEq(uint8(slashOrders.order(id).status), uint8(SlashOrders.Status.Skipped));

        // a later stake is not touched by the spent order
        _fund(bob, 10 ether);
        vm.startPrank(bob);
        token.approve(address(registry), 10 ether);
        registry.addStake(device, 10 ether);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(SlashOrders.OrderNotPending.selector, id, SlashOrders.Status.Skipped));
        slashOrders.execute(id);
        (uint256 stake,) = _stake(device);
        assertEq(stake, 10 ether);
    }

    /// Any other failure of the registry is not swallowed: the order stays pending.
    function test_ExecuteRevertsWhenRegistryRefuses() public {
        bytes32 id = _proposeSlash(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT);
        bytes32 role = registry.SLASHER_ROLE();
        vm.prank(address(timelock));
        registry.revokeRole(role, address(slashOrders));
        vm.warp(block.timestamp + SLASH_WINDOW);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(slashOrders), role)
        );
        slashOrders.execute(id);
        assertEq(uint8(slashOrders.order(id).status), uint8(SlashOrders.Status.Pending));
    }

    function test_RevertWhen_ExecuteUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(SlashOrders.UnknownOrder.selector, bytes32(uint256(1))));
        slashOrders.execute(bytes32(uint256(1)));
    }

    // ------------------------------------------------------------------ veto

    function test_GuardianVetoesAndOrderNeverExecutes() public {
        bytes32 id = _proposeSlash(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT);
        vm.expectEmit(address(slashOrders));
        emit SlashOrders.SlashVetoed(id, device, guardian);
        vm.prank(guardian);
        slashOrders.veto(id);
        assertEq(uint8(slashOrders.order(id).status), uint8(SlashOrders.Status.Vetoed));
        vm.warp(block.timestamp + SLASH_WINDOW + 365 days);
        vm.expectRevert(abi.encodeWithSelector(SlashOrders.OrderNotPending.selector, id, SlashOrders.Status.Vetoed));
        slashOrders.execute(id);
        bytes memory sigs = _signSlash(oracleKeys, EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT);
        vm.expectRevert(abi.encodeWithSelector(SlashOrders.OrderExists.selector, id, SlashOrders.Status.Vetoed));
        slashOrders.propose(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT, sigs);
        vm.prank(guardian);
        vm.expectRevert(abi.encodeWithSelector(SlashOrders.OrderNotPending.selector, id, SlashOrders.Status.Vetoed));
        slashOrders.veto(id);
        (uint256 stake,) = _stake(device);
        assertEq(stake, MIN_STAKE);
    }

    function test_TimelockVetoesAfterWindowBeforeExecution() public {
        bytes32 id = _proposeSlash(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT);
        vm.warp(block.timestamp + SLASH_WINDOW + 1);
        vm.prank(address(timelock));
        slashOrders.veto(id);
        vm.expectRevert(abi.encodeWithSelector(SlashOrders.OrderNotPending.selector, id, SlashOrders.Status.Vetoed));
        slashOrders.execute(id);
    }

    function test_RevertWhen_VetoInvalid() public {
        vm.prank(guardian);
        vm.expectRevert(abi.encodeWithSelector(SlashOrders.UnknownOrder.selector, bytes32(uint256(7))));
        slashOrders.veto(bytes32(uint256(7)));
        bytes32 id = _proposeSlash(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT);
        vm.warp(block.timestamp + SLASH_WINDOW);
        slashOrders.execute(id);
        vm.prank(guardian);
        vm.expectRevert(abi.encodeWithSelector(SlashOrders.OrderNotPending.selector, id, SlashOrders.Status.Executed));
        slashOrders.veto(id);
    }

    function testFuzz_RevertWhen_VetoByNonGuardian(address caller) public {
        vm.assume(caller != guardian && caller != address(timelock));
        bytes32 id = _proposeSlash(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT);
        bytes32 role = slashOrders.GUARDIAN_ROLE();
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, role));
        slashOrders.veto(id);
    }

    // ------------------------------------------------------------------ governance

    function test_ChallengeWindowAppliesToNewOrdersOnly() public {
        bytes32 first = _proposeSlash(EPOCH_3, device, 1 ether, EVIDENCE, ARTIFACT);
        vm.expectEmit(address(slashOrders));
        emit SlashOrders.ChallengeWindowSet(3 days);
        vm.prank(address(timelock));
        slashOrders.setChallengeWindow(3 days);
        bytes32 second = _proposeSlash(EPOCH_3 + 1, device, 1 ether, EVIDENCE, ARTIFACT);
        assertEq(slashOrders.order(first).executableAt, block.timestamp + SLASH_WINDOW);
        assertEq(slashOrders.order(second).executableAt, block.timestamp + 3 days);
        uint256 max = slashOrders.MAX_CHALLENGE_WINDOW();
        vm.prank(address(timelock));
        vm.expectRevert(abi.encodeWithSelector(SlashOrders.ChallengeWindowTooLong.selector, max + 1, max));
        slashOrders.setChallengeWindow(uint64(max + 1));
    }

    function testFuzz_RevertWhen_WindowByNonTimelock(address caller) public {
        vm.assume(caller != address(timelock));
        bytes32 role = slashOrders.DEFAULT_ADMIN_ROLE();
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, role));
        slashOrders.setChallengeWindow(1);
    }

    function test_RolesAtDeployment() public view {
        assertTrue(slashOrders.hasRole(slashOrders.GUARDIAN_ROLE(), guardian));
        assertTrue(slashOrders.hasRole(slashOrders.GUARDIAN_ROLE(), address(timelock)));
        assertTrue(slashOrders.hasRole(slashOrders.DEFAULT_ADMIN_ROLE(), address(timelock)));
        assertTrue(registry.hasRole(registry.SLASHER_ROLE(), address(slashOrders)));
        assertEq(address(slashOrders.oracleSet()), address(distributor));
        assertEq(address(slashOrders.registry()), address(registry));
    }

    function test_RevertWhen_ConstructorZeroes() public {
        IOracleSet set = IOracleSet(address(distributor));
        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.ZeroAddress.selector, "oracleSet"));
        new SlashOrders(registry, IOracleSet(address(0)), alice, guardian, 1);
        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.ZeroAddress.selector, "registry"));
        new SlashOrders(DeviceRegistry(address(0)), set, alice, guardian, 1);
        vm.expectRevert(abi.encodeWithSelector(OracleQuorum.ZeroAddress.selector, "admin"));
        new SlashOrders(registry, set, address(0), guardian, 1);
        vm.expectRevert(abi.encodeWithSelector(SlashOrders.ChallengeWindowTooLong.selector, 31 days, 30 days));
        new SlashOrders(registry, set, alice, guardian, 31 days);
        SlashOrders noGuardian = new SlashOrders(registry, set, alice, address(0), 1);
        assertTrue(noGuardian.hasRole(noGuardian.GUARDIAN_ROLE(), alice));
    }

    // ------------------------------------------------------------------ fuzz

    /// Execution is refused before the window ends and succeeds once from then on.
    function testFuzz_ExecuteTiming(uint64 window, uint256 wait) public {
        window = uint64(bound(window, 0, 30 days));
        vm.prank(address(timelock));
        slashOrders.setChallengeWindow(window);
        bytes32 id = _proposeSlash(EPOCH_3, device, AMOUNT, EVIDENCE, ARTIFACT);
        uint256 at = block.timestamp + window;
        vm.warp(block.timestamp + bound(wait, 0, 60 days));
        if (block.timestamp < at) {
            vm.expectRevert(
                abi.encodeWithSelector(SlashOrders.ChallengeWindowNotOver.selector, id, at, block.timestamp)
            );
            slashOrders.execute(id);
            (uint256 stake,) = _stake(device);
            assertEq(stake, MIN_STAKE);
        } else {
            slashOrders.execute(id);
            vm.expectRevert();
            slashOrders.execute(id);
            (uint256 stake,) = _stake(device);
            assertEq(stake, MIN_STAKE - AMOUNT);
        }
    }

    /// Whatever the amount and the split between active and unstaking stake, a slash takes
    /// min(amount, stake + unstaking), active stake first, and burns exactly that.
    function testFuzz_SlashAmount(uint256 amount, uint256 unstake) public {
        amount = bound(amount, 1, 1000 ether);
        unstake = bound(unstake, 0, MIN_STAKE);
        if (unstake > 0) {
            vm.prank(bob);
            registry.requestUnstake(device, unstake);
        }
        bytes32 id = _proposeSlash(EPOCH_3, device, amount, EVIDENCE, ARTIFACT);
        vm.warp(block.timestamp + SLASH_WINDOW);
        uint256 supply = token.totalSupply();
        slashOrders.execute(id);
        uint256 expected = amount < MIN_STAKE ? amount : MIN_STAKE;
        (uint256 stake, uint256 unstaking) = _stake(device);
        assertEq(stake + unstaking, MIN_STAKE - expected);
        assertEq(token.totalSupply(), supply - expected);
        uint256 active = MIN_STAKE - unstake;
        assertEq(stake, active > amount ? active - amount : 0, "active stake goes first");
    }
}
