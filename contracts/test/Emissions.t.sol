// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Emissions} from "../src/emissions/Emissions.sol";
import {GroundworkToken} from "../src/token/GroundworkToken.sol";
import {Base} from "./utils/Base.t.sol";

contract EmissionsTest is Base {
    function _schedule(uint256 initial, uint256 period, uint256 num, uint256 den)
        internal
        view
        returns (Emissions.Schedule memory)
    {
        return Emissions.Schedule(block.timestamp, EPOCH, initial, period, num, den);
    }

    function test_GenesisMinted() public view {
        assertEq(emissions.genesisSupply(), GENESIS);
        assertEq(token.balanceOf(treasury), GENESIS);
    }

    function test_HalvingSchedule() public view {
        assertEq(emissions.scheduledEmission(0), INITIAL_EMISSION);
        assertEq(emissions.scheduledEmission(364), INITIAL_EMISSION);
        assertEq(emissions.scheduledEmission(365), INITIAL_EMISSION / 2);
        assertEq(emissions.scheduledEmission(730), INITIAL_EMISSION / 4);
        assertEq(emissions.scheduledEmission(365 * 10), INITIAL_EMISSION / 1024);
        assertEq(emissions.scheduledEmission(365 * 200), 0);
    }

    function testFuzz_ScheduleNeverIncreases(uint256 epoch) public view {
        epoch = bound(epoch, 0, 1_000_000);
        assertLe(emissions.scheduledEmission(epoch + 1), emissions.scheduledEmission(epoch));
    }

    function testFuzz_DecayMatchesRepeatedMultiplication(uint256 steps, uint256 num) public {
        steps = bound(steps, 0, 40);
        num = bound(num, 1, 1000);
        Emissions e = _fresh(_schedule(1e24, 1, num, 1000));
        uint256 expected = 1e24;
        for (uint256 i; i < steps; ++i) {
            expected = expected * num / 1000;
        }
        uint256 got = e.scheduledEmission(steps);
        // Both round down at every step, in different places: they agree to within 1 ppm + steps wei.
        assertApproxEqAbs(got, expected, expected / 1e6 + steps + 1);
        assertLe(got, 1e24);
    }

    function _fresh(Emissions.Schedule memory s) internal returns (Emissions e) {
        uint64 nonce = vm.getNonce(address(this));
        GroundworkToken t = new GroundworkToken("T", "T", CAP, vm.computeCreateAddress(address(this), nonce + 1));
        e = new Emissions(t, address(timelock), s, new address[](0), new uint256[](0));
    }

    function test_RevertWhen_ScheduleInvalid() public {
        GroundworkToken t = new GroundworkToken("T", "T", CAP, address(1));
        address[] memory none = new address[](0);
        uint256[] memory noAmounts = new uint256[](0);
        vm.expectRevert(abi.encodeWithSelector(Emissions.InvalidSchedule.selector, "epochDuration is zero"));
        new Emissions(t, address(timelock), Emissions.Schedule(0, 0, 1, 1, 1, 2), none, noAmounts);
        vm.expectRevert(abi.encodeWithSelector(Emissions.InvalidSchedule.selector, "decayPeriodEpochs is zero"));
        new Emissions(t, address(timelock), Emissions.Schedule(0, 1, 1, 0, 1, 2), none, noAmounts);
        vm.expectRevert(
            abi.encodeWithSelector(
                Emissions.InvalidSchedule.selector, "decay must be a fraction numerator/denominator <= 1"
            )
        );
        new Emissions(t, address(timelock), Emissions.Schedule(0, 1, 1, 1, 3, 2), none, noAmounts);
        vm.expectRevert(abi.encodeWithSelector(Emissions.ZeroAddress.selector, "admin"));
        new Emissions(t, address(0), Emissions.Schedule(0, 1, 1, 1, 1, 2), none, noAmounts);
        vm.expectRevert(abi.encodeWithSelector(Emissions.ZeroAddress.selector, "token"));
        new Emissions(GroundworkToken(address(0)), address(1), Emissions.Schedule(0, 1, 1, 1, 1, 2), none, noAmounts);
        vm.expectRevert(abi.encodeWithSelector(Emissions.LengthMismatch.selector, 0, 1));
        new Emissions(t, address(1), Emissions.Schedule(0, 1, 1, 1, 1, 2), none, new uint256[](1));
    }

    function test_RevertWhen_GenesisRecipientZeroOrEmissionTooLarge() public {
        uint64 nonce = vm.getNonce(address(this));
        GroundworkToken t = new GroundworkToken("T", "T", CAP, vm.computeCreateAddress(address(this), nonce + 1));
        address[] memory to = new address[](1);
        uint256[] memory amounts = new uint256[](1);
        vm.expectRevert(abi.encodeWithSelector(Emissions.ZeroAddress.selector, "genesis recipient"));
        new Emissions(t, address(timelock), _schedule(1, 1, 1, 2), to, amounts);
        vm.expectRevert(abi.encodeWithSelector(Emissions.InvalidSchedule.selector, "initialEpochEmission too large"));
        new Emissions(t, address(timelock), _schedule(uint256(type(uint128).max) + 1, 1, 1, 2), to, amounts);
    }

    function test_ZeroDecayStopsAfterFirstPeriodAndFlatScheduleNeverDecays() public {
        Emissions zero = _fresh(_schedule(5 ether, 10, 0, 1));
        assertEq(zero.scheduledEmission(9), 5 ether);
        assertEq(zero.scheduledEmission(10), 0);
        Emissions flat = _fresh(_schedule(5 ether, 10, 7, 7));
        assertEq(flat.scheduledEmission(1_000_000), 5 ether);
    }

    function test_CurrentEpochBeforeGenesisIsZero() public {
        Emissions later = _fresh(Emissions.Schedule(block.timestamp + 1 days, EPOCH, 1, 1, 1, 2));
        assertEq(later.currentEpoch(), 0);
        assertFalse(later.epochEnded(0));
    }

    function test_EpochClock() public {
        assertEq(emissions.currentEpoch(), 0);
        assertFalse(emissions.epochEnded(0));
        vm.warp(genesisTime + EPOCH - 1);
        assertFalse(emissions.epochEnded(0));
        vm.warp(genesisTime + EPOCH);
        assertTrue(emissions.epochEnded(0));
        assertEq(emissions.currentEpoch(), 1);
    }

    function test_ReleaseSplitsByWeight() public {
        vm.warp(genesisTime + EPOCH);
        vm.expectEmit(address(emissions));
        emit Emissions.EpochReleased(0, address(distributor), INITIAL_EMISSION, INITIAL_EMISSION);
        uint256 amount = emissions.release(0);
        assertEq(amount, INITIAL_EMISSION);
        assertEq(token.balanceOf(address(distributor)), INITIAL_EMISSION);
        assertEq(emissions.networkBudget(0, UPTIME), INITIAL_EMISSION * 3 / 4);
        assertEq(emissions.networkBudget(0, STORAGE), INITIAL_EMISSION / 4);
        assertEq(emissions.releasedTo(address(distributor)), INITIAL_EMISSION);
        assertEq(emissions.totalReleased(), INITIAL_EMISSION);
        assertTrue(emissions.released(0));
    }

    function testFuzz_BudgetsSumToRelease(uint256 w1, uint256 w2, uint256 w3) public {
        w1 = bound(w1, 0, 1e6);
        w2 = bound(w2, 1, 1e6);
        w3 = bound(w3, 0, 1e6);
        vm.startPrank(address(timelock));
        emissions.setNetworkWeight(UPTIME, w1);
        emissions.setNetworkWeight(STORAGE, w2);
        emissions.setNetworkWeight(keccak256("coverage"), w3);
        vm.stopPrank();
        vm.warp(genesisTime + EPOCH);
        uint256 amount = emissions.release(0);
        uint256 sum = emissions.networkBudget(0, UPTIME) + emissions.networkBudget(0, STORAGE)
            + emissions.networkBudget(0, keccak256("coverage"));
        assertEq(sum, amount);
        assertLe(emissions.networkBudget(0, STORAGE), amount * w2 / (w1 + w2 + w3) + 1);
    }

    function test_RevertWhen_EpochNotEnded() public {
        vm.expectRevert(abi.encodeWithSelector(Emissions.EpochNotEnded.selector, 0, 0));
        emissions.release(0);
    }

    function test_RevertWhen_ReleasedTwice() public {
        vm.warp(genesisTime + EPOCH);
        emissions.release(0);
        vm.expectRevert(abi.encodeWithSelector(Emissions.EpochAlreadyReleased.selector, 0));
        emissions.release(0);
    }

    function test_RevertWhen_NoPoolOrNoWeight() public {
        Emissions e = _fresh(_schedule(1 ether, 1, 1, 2));
        vm.warp(block.timestamp + EPOCH);
        vm.expectRevert(Emissions.NoRewardsPool.selector);
        e.release(0);
        vm.prank(address(timelock));
        e.setRewardsPool(alice);
        vm.expectRevert(Emissions.NoWeightedNetwork.selector);
        e.release(0);
    }

    function test_ReleaseStopsAtCap() public {
        uint64 nonce = vm.getNonce(address(this));
        GroundworkToken t = new GroundworkToken("T", "T", 150 ether, vm.computeCreateAddress(address(this), nonce + 1));
        Emissions e = new Emissions(t, address(timelock), _schedule(100 ether, 10, 1, 1), new address[](0), new uint256[](0));
        vm.startPrank(address(timelock));
        e.setRewardsPool(alice);
        e.setNetworkWeight(UPTIME, 1);
        vm.stopPrank();
        vm.warp(block.timestamp + 3 * EPOCH);
        assertEq(e.release(0), 100 ether);
        assertEq(e.release(1), 50 ether);
        assertEq(e.release(2), 0);
        assertEq(t.totalSupply(), 150 ether);
    }

    function test_NetworksList() public {
        (bytes32[] memory ids, uint256[] memory weights) = emissions.networks();
        assertEq(ids.length, 2);
        assertEq(ids[0], UPTIME);
        assertEq(weights[0], 3);
        assertTrue(emissions.isNetwork(STORAGE));
        assertFalse(emissions.isNetwork(keccak256("nope")));
        vm.prank(address(timelock));
        emissions.setNetworkWeight(UPTIME, 0);
        assertEq(emissions.totalWeight(), 1);
        assertTrue(emissions.isNetwork(UPTIME));
        assertEq(emissions.weightOf(UPTIME), 0);
    }

    function test_RevertWhen_TooManyNetworksOrZero() public {
        vm.startPrank(address(timelock));
        vm.expectRevert(Emissions.ZeroNetwork.selector);
        emissions.setNetworkWeight(bytes32(0), 1);
        for (uint256 i = 2; i < 32; ++i) {
            emissions.setNetworkWeight(bytes32(i + 100), 1);
        }
        vm.expectRevert(abi.encodeWithSelector(Emissions.TooManyNetworks.selector, 32));
        emissions.setNetworkWeight(bytes32(uint256(999)), 1);
        vm.expectRevert(abi.encodeWithSelector(Emissions.ZeroAddress.selector, "pool"));
        emissions.setRewardsPool(address(0));
        vm.stopPrank();
    }

    function testFuzz_RevertWhen_NotTimelock(address caller) public {
        vm.assume(caller != address(timelock));
        vm.startPrank(caller);
        bytes memory err = abi.encodeWithSelector(
            IAccessControl.AccessControlUnauthorizedAccount.selector, caller, emissions.DEFAULT_ADMIN_ROLE()
        );
        vm.expectRevert(err);
        emissions.setNetworkWeight(UPTIME, 1);
        vm.expectRevert(err);
        emissions.setRewardsPool(caller);
        vm.stopPrank();
    }
}
