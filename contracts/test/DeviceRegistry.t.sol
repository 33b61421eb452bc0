// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {DeviceRegistry} from "../src/registry/DeviceRegistry.sol";
import {ServiceCredits} from "../src/credits/ServiceCredits.sol";
import {Emissions} from "../src/emissions/Emissions.sol";
import {GroundworkToken} from "../src/token/GroundworkToken.sol";
import {H3Cell} from "../src/registry/H3Cell.sol";
import {Base} from "./utils/Base.t.sol";

contract H3CellHarness {
    function isValidCell(uint64 cell) external pure returns (bool) {
        return H3Cell.isValidCell(cell);
    }
}

contract DeviceRegistryTest is Base {
    uint256 internal constant DEVICE_PK = 0xD1CE;
    uint64 internal constant SF_RES9 = 0x8928308280fffff; // h3-js latLngToCell(37.7749, -122.4194, 9) region
    uint64 internal constant RES5 = 0x85283473fffffff;

    function test_RegisterWithDeviceSignature() public {
        (bytes32 x, bytes32 y) = _deviceKey(DEVICE_PK);
        uint256 expectedId = uint256(keccak256(abi.encode(x, y)));
        uint256 supplyBefore = credits.totalSupply();
        _buyCredits(alice, ONBOARDING_FEE + LOCATION_FEE);
        _fund(alice, MIN_STAKE);
        (bytes32 r, bytes32 s) = _signRegistration(DEVICE_PK, alice, UPTIME, 0);
        vm.startPrank(alice);
        token.approve(address(registry), MIN_STAKE);
        credits.approveSpender(address(registry), type(uint256).max);
        vm.expectEmit(address(registry));
        emit DeviceRegistry.DeviceRegistered(expectedId, alice, UPTIME, x, y, MIN_STAKE);
        uint256 id = registry.register(UPTIME, x, y, SF_RES9, MIN_STAKE, r, s);
        vm.stopPrank();

        assertEq(id, expectedId);
        assertEq(registry.ownerOf(id), alice);
        DeviceRegistry.Device memory d = registry.device(id);
        assertEq(d.keyX, x);
        assertEq(d.keyY, y);
        assertEq(d.network, UPTIME);
        assertEq(d.location, SF_RES9);
        assertEq(d.stake, MIN_STAKE);
        assertEq(d.registeredAt, block.timestamp);
        assertEq(registry.nonces(id), 1);
        assertEq(token.balanceOf(address(registry)), MIN_STAKE);
        assertEq(credits.balanceOf(alice), credits.totalSupply() - supplyBefore - 0);
        assertEq(credits.spentOnDevice(id), ONBOARDING_FEE + LOCATION_FEE);
        assertEq(credits.spentOnNetwork(UPTIME), ONBOARDING_FEE + LOCATION_FEE);
    }

    function test_RevertWhen_SignatureFromAnotherKey() public {
        (bytes32 x, bytes32 y) = _deviceKey(DEVICE_PK);
        (bytes32 r, bytes32 s) = _signRegistration(0xBAD, alice, UPTIME, 0);
        uint256 id = registry.deviceIdOf(x, y);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.InvalidDeviceSignature.selector, id, alice, 0));
        registry.register(UPTIME, x, y, 0, MIN_STAKE, r, s);
    }

    function test_RevertWhen_SignatureForAnotherOwner() public {
        (bytes32 x, bytes32 y) = _deviceKey(DEVICE_PK);
        (bytes32 r, bytes32 s) = _signRegistration(DEVICE_PK, alice, UPTIME, 0);
        uint256 id = registry.deviceIdOf(x, y);
        vm.prank(bob); // bob front-runs alice's signature
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.InvalidDeviceSignature.selector, id, bob, 0));
        registry.register(UPTIME, x, y, 0, MIN_STAKE, r, s);
    }

    function test_RevertWhen_SignatureForAnotherNetwork() public {
        (bytes32 x, bytes32 y) = _deviceKey(DEVICE_PK);
        (bytes32 r, bytes32 s) = _signRegistration(DEVICE_PK, alice, STORAGE, 0);
        uint256 id = registry.deviceIdOf(x, y);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.InvalidDeviceSignature.selector, id, alice, 0));
        registry.register(UPTIME, x, y, 0, MIN_STAKE, r, s);
    }

    function test_RevertWhen_HighSSignature() public {
        (bytes32 x, bytes32 y) = _deviceKey(DEVICE_PK);
        (bytes32 r, bytes32 s) = _signRegistration(DEVICE_PK, alice, UPTIME, 0);
        bytes32 highS = bytes32(P256_N - uint256(s)); // the malleable twin
        uint256 id = registry.deviceIdOf(x, y);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.InvalidDeviceSignature.selector, id, alice, 0));
        registry.register(UPTIME, x, y, 0, MIN_STAKE, r, highS);
    }

    function test_RevertWhen_ReplayedRegistration() public {
        uint256 id = _register(DEVICE_PK, alice, UPTIME, 0);
        (bytes32 x, bytes32 y) = _deviceKey(DEVICE_PK);
        (bytes32 r, bytes32 s) = _signRegistration(DEVICE_PK, alice, UPTIME, 0);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.DeviceAlreadyRegistered.selector, id));
        registry.register(UPTIME, x, y, 0, MIN_STAKE, r, s);
    }

    function test_RevertWhen_InvalidPublicKey() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.InvalidPublicKey.selector, bytes32(uint256(1)), bytes32(uint256(2))));
        registry.register(UPTIME, bytes32(uint256(1)), bytes32(uint256(2)), 0, MIN_STAKE, bytes32(0), bytes32(0));
    }

    function test_RevertWhen_UnknownNetwork() public {
        (bytes32 x, bytes32 y) = _deviceKey(DEVICE_PK);
        bytes32 net = keccak256("nope");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.UnknownNetwork.selector, net));
        registry.register(net, x, y, 0, MIN_STAKE, bytes32(0), bytes32(0));
    }

    function test_RevertWhen_StakeBelowMinimumOrBadLocation() public {
        (bytes32 x, bytes32 y) = _deviceKey(DEVICE_PK);
        (bytes32 r, bytes32 s) = _signRegistration(DEVICE_PK, alice, UPTIME, 0);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.StakeBelowMinimum.selector, MIN_STAKE - 1, MIN_STAKE));
        registry.register(UPTIME, x, y, 0, MIN_STAKE - 1, r, s);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.ZeroAmount.selector, "stake"));
        registry.register(UPTIME, x, y, 0, 0, r, s);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.InvalidLocation.selector, uint64(12345)));
        registry.register(UPTIME, x, y, 12345, MIN_STAKE, r, s);
        vm.stopPrank();
    }

    function test_RevertWhen_NoCreditsForFee() public {
        (bytes32 x, bytes32 y) = _deviceKey(DEVICE_PK);
        (bytes32 r, bytes32 s) = _signRegistration(DEVICE_PK, alice, UPTIME, 0);
        _fund(alice, MIN_STAKE);
        vm.startPrank(alice);
        token.approve(address(registry), MIN_STAKE);
        credits.approveSpender(address(registry), type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(ServiceCredits.InsufficientCredits.selector, alice, 0, ONBOARDING_FEE));
        registry.register(UPTIME, x, y, 0, MIN_STAKE, r, s);
        vm.stopPrank();
    }

    function test_AssertLocation() public {
        uint256 id = _register(DEVICE_PK, alice, UPTIME, 0);
        _buyCredits(alice, LOCATION_FEE);
        vm.expectEmit(address(registry));
        emit DeviceRegistry.LocationAsserted(id, RES5, LOCATION_FEE);
        vm.prank(alice);
        registry.assertLocation(id, RES5);
        assertEq(registry.device(id).location, RES5);
        assertEq(credits.spentOnDevice(id), ONBOARDING_FEE + LOCATION_FEE);
    }

    function test_RevertWhen_AssertLocationByNonOwnerOrInvalid() public {
        uint256 id = _register(DEVICE_PK, alice, UPTIME, 0);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.NotDeviceOwner.selector, id, bob, alice));
        registry.assertLocation(id, RES5);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.InvalidLocation.selector, uint64(0)));
        registry.assertLocation(id, 0);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 7));
        registry.assertLocation(7, RES5);
        vm.stopPrank();
    }

    function test_StakeUnstakeWithdraw() public {
        uint256 id = _register(DEVICE_PK, alice, UPTIME, 0);
        _fund(bob, 50 ether);
        vm.startPrank(bob);
        token.approve(address(registry), 50 ether);
        registry.addStake(id, 50 ether); // anyone may top up
        vm.stopPrank();
        assertEq(registry.device(id).stake, MIN_STAKE + 50 ether);

        vm.prank(alice);
        registry.requestUnstake(id, 60 ether);
        DeviceRegistry.Device memory d = registry.device(id);
        assertEq(d.stake, MIN_STAKE - 10 ether);
        assertEq(d.unstaking, 60 ether);
        assertEq(d.unstakeReadyAt, block.timestamp + UNSTAKE_DELAY);

        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(DeviceRegistry.UnstakeNotReady.selector, id, block.timestamp + UNSTAKE_DELAY, block.timestamp)
        );
        registry.withdrawUnstaked(id);

        vm.warp(block.timestamp + UNSTAKE_DELAY);
        vm.prank(alice);
        registry.withdrawUnstaked(id);
        assertEq(token.balanceOf(alice), 60 ether);
        assertEq(registry.device(id).unstaking, 0);

        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.NothingToWithdraw.selector, id));
        registry.withdrawUnstaked(id);
    }

    function test_RevertWhen_UnstakeTooMuchOrByNonOwner() public {
        uint256 id = _register(DEVICE_PK, alice, UPTIME, 0);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.InsufficientStake.selector, id, MIN_STAKE, MIN_STAKE + 1));
        registry.requestUnstake(id, MIN_STAKE + 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.ZeroAmount.selector, "amount"));
        registry.requestUnstake(id, 0);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.NotDeviceOwner.selector, id, bob, alice));
        registry.requestUnstake(id, 1);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.NotDeviceOwner.selector, id, bob, alice));
        registry.withdrawUnstaked(id);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.ZeroAmount.selector, "amount"));
        registry.addStake(id, 0);
    }

    function test_TransferMovesDeviceAndStakeRights() public {
        uint256 id = _register(DEVICE_PK, alice, UPTIME, 0);
        vm.prank(alice);
        registry.transferFrom(alice, bob, id);
        assertEq(registry.ownerOf(id), bob);
        vm.prank(bob);
        registry.requestUnstake(id, 1 ether);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.NotDeviceOwner.selector, id, alice, bob));
        registry.requestUnstake(id, 1 ether);
    }

    function test_SlashTakesStakeThenUnstakingAndBurns() public {
        uint256 id = _register(DEVICE_PK, alice, UPTIME, 0);
        vm.prank(alice);
        registry.requestUnstake(id, 40 ether); // 60 staked, 40 unstaking
        uint256 supply = token.totalSupply();
        bytes32 evidence = keccak256("evidence");
        vm.expectEmit(address(registry));
        emit DeviceRegistry.DeviceSlashed(id, slasher, 80 ether, 80 ether, evidence);
        vm.prank(slasher);
        registry.slash(id, 80 ether, evidence);
        DeviceRegistry.Device memory d = registry.device(id);
        assertEq(d.stake, 0);
        assertEq(d.unstaking, 20 ether);
        assertEq(token.totalSupply(), supply - 80 ether);
        // asking for more than is left slashes what is left
        vm.prank(slasher);
        registry.slash(id, 1000 ether, evidence);
        assertEq(registry.device(id).unstaking, 0);
        vm.prank(slasher);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.NothingToSlash.selector, id));
        registry.slash(id, 1, evidence);
    }

    function testFuzz_RevertWhen_SlashByNonSlasher(address caller) public {
        vm.assume(caller != slasher);
        uint256 id = _register(DEVICE_PK, alice, UPTIME, 0);
        bytes32 role = registry.SLASHER_ROLE();
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, role));
        registry.slash(id, 1, bytes32(0));
    }

    function test_RevertWhen_SlashUnknownOrZero() public {
        vm.startPrank(slasher);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 5));
        registry.slash(5, 1, bytes32(0));
        vm.stopPrank();
        uint256 id = _register(DEVICE_PK, alice, UPTIME, 0);
        vm.prank(slasher);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.ZeroAmount.selector, "amount"));
        registry.slash(id, 0, bytes32(0));
    }

    function test_GovernanceSetsFeesAndStakeRules() public {
        vm.startPrank(address(timelock));
        registry.setFees(1, 2);
        registry.setStakeRules(3, 4);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.UnstakeDelayTooLong.selector, 366 days));
        registry.setStakeRules(3, 366 days);
        vm.stopPrank();
        assertEq(registry.onboardingFee(), 1);
        assertEq(registry.locationFee(), 2);
        assertEq(registry.minStake(), 3);
        assertEq(registry.unstakeDelay(), 4);
    }

    function testFuzz_RevertWhen_ParametersByNonTimelock(address caller) public {
        vm.assume(caller != address(timelock));
        bytes memory err = abi.encodeWithSelector(
            IAccessControl.AccessControlUnauthorizedAccount.selector, caller, registry.DEFAULT_ADMIN_ROLE()
        );
        vm.startPrank(caller);
        vm.expectRevert(err);
        registry.setFees(0, 0);
        vm.expectRevert(err);
        registry.setStakeRules(0, 0);
        vm.stopPrank();
    }

    function testFuzz_OnlyTheKeyRegistersItsDevice(uint256 devicePk, uint256 otherPk) public {
        devicePk = bound(devicePk, 1, P256_N - 1);
        otherPk = bound(otherPk, 1, P256_N - 1);
        vm.assume(devicePk != otherPk);
        (bytes32 x, bytes32 y) = _deviceKey(devicePk);
        (bytes32 r, bytes32 s) = _signRegistration(otherPk, alice, UPTIME, 0);
        uint256 id = registry.deviceIdOf(x, y);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.InvalidDeviceSignature.selector, id, alice, 0));
        registry.register(UPTIME, x, y, 0, MIN_STAKE, r, s);
    }

    function test_RevertWhen_ConstructorZeroes() public {
        DeviceRegistry.Config memory c;
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.ZeroAddress.selector, "token"));
        new DeviceRegistry(GroundworkToken(address(0)), credits, emissions, alice, c);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.ZeroAddress.selector, "credits"));
        new DeviceRegistry(token, ServiceCredits(address(0)), emissions, alice, c);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.ZeroAddress.selector, "emissions"));
        new DeviceRegistry(token, credits, Emissions(address(0)), alice, c);
        vm.expectRevert(abi.encodeWithSelector(DeviceRegistry.ZeroAddress.selector, "admin"));
        new DeviceRegistry(token, credits, emissions, address(0), c);
    }

    function test_H3Validation() public {
        H3CellHarness h = new H3CellHarness();
        assertTrue(h.isValidCell(SF_RES9));
        assertTrue(h.isValidCell(RES5));
        assertTrue(h.isValidCell(0x8001fffffffffff)); // res 0, base cell 0
        assertFalse(h.isValidCell(0));
        assertFalse(h.isValidCell(SF_RES9 | (uint64(1) << 63)), "reserved high bit");
        assertFalse(h.isValidCell((SF_RES9 & ~(uint64(0xF) << 59)) | (uint64(2) << 59)), "edge mode");
        assertFalse(h.isValidCell(SF_RES9 & ~uint64(7)), "digit past the resolution is not 7");
        assertFalse(h.isValidCell(0x80f5fffffffffff), "base cell 122");
        assertFalse(h.isValidCell(0x8928308280fffff | (uint64(7) << 18)), "unused digit inside the resolution");
    }

    function test_RevertWhen_DeviceUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 9));
        registry.device(9);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 9));
        registry.addStake(9, 1);
    }

    function test_NewUnstakeRequestRestartsDelay() public {
        uint256 id = _register(DEVICE_PK, alice, UPTIME, 0);
        vm.prank(alice);
        registry.requestUnstake(id, 10 ether);
        vm.warp(block.timestamp + UNSTAKE_DELAY - 1);
        vm.prank(alice);
        registry.requestUnstake(id, 10 ether);
        assertEq(registry.device(id).unstakeReadyAt, block.timestamp + UNSTAKE_DELAY);
        assertEq(registry.device(id).unstaking, 20 ether);
    }

    function test_SupportsInterfaces() public view {
        assertTrue(registry.supportsInterface(0x80ac58cd)); // ERC-721
        assertTrue(registry.supportsInterface(0x7965db0b)); // AccessControl
    }
}
