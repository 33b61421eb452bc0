// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {RewardDistributor} from "../src/rewards/RewardDistributor.sol";
import {Emissions} from "../src/emissions/Emissions.sol";
import {Base} from "./utils/Base.t.sol";

contract GovernanceTest is Base {
    function _propose(address target, bytes memory data, string memory description)
        internal
        returns (uint256 id, address[] memory targets, uint256[] memory values, bytes[] memory calldatas)
    {
        targets = new address[](1);
        values = new uint256[](1);
        calldatas = new bytes[](1);
        targets[0] = target;
        calldatas[0] = data;
        vm.prank(treasury);
        id = governor.propose(targets, values, calldatas, description);
    }

    function test_Settings() public view {
        assertEq(governor.votingDelay(), 1 days);
        assertEq(governor.votingPeriod(), 1 weeks);
        assertEq(governor.quorumNumerator(), 4);
        assertEq(governor.proposalThreshold(), 0);
        assertEq(address(governor.timelock()), address(timelock));
        assertEq(governor.CLOCK_MODE(), "mode=timestamp");
    }

    function test_ProposalChangesParameterThroughTimelock() public {
        vm.prank(treasury);
        token.delegate(treasury);
        vm.warp(block.timestamp + 1);

        bytes memory call = abi.encodeCall(RewardDistributor.setChallengeWindow, (uint64(2 hours)));
        string memory description = "Lengthen the challenge window to two hours";
        (uint256 id, address[] memory targets, uint256[] memory values, bytes[] memory calldatas) =
            _propose(address(distributor), call, description);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Pending));

        vm.warp(block.timestamp + 1 days + 1);
        vm.prank(treasury);
        governor.castVote(id, 1);
        vm.warp(block.timestamp + 1 weeks);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Succeeded));

        bytes32 descHash = keccak256(bytes(description));
        governor.queue(targets, values, calldatas, descHash);
        vm.expectRevert(); // the timelock delay has not passed
        governor.execute(targets, values, calldatas, descHash);
        vm.warp(block.timestamp + 2 days);
        governor.execute(targets, values, calldatas, descHash);
        assertEq(distributor.challengeWindow(), 2 hours);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Executed));
    }

    function test_DefeatedWithoutQuorum() public {
        // Alice holds 1% of supply: below the 4% quorum.
        _fund(alice, GENESIS / 100);
        vm.prank(alice);
        token.delegate(alice);
        vm.warp(block.timestamp + 1);
        bytes memory call = abi.encodeCall(Emissions.setNetworkWeight, (UPTIME, 100));
        address[] memory targets = new address[](1);
        targets[0] = address(emissions);
        bytes[] memory calldatas = new bytes[](1);
        calldatas[0] = call;
        vm.prank(alice);
        uint256 id = governor.propose(targets, new uint256[](1), calldatas, "weights");
        vm.warp(block.timestamp + 1 days + 1);
        vm.prank(alice);
        governor.castVote(id, 1);
        vm.warp(block.timestamp + 1 weeks);
        assertEq(uint8(governor.state(id)), uint8(IGovernor.ProposalState.Defeated));
    }

    function test_TimelockHoldsEveryAdminRole() public view {
        bytes32 admin = 0x00;
        assertTrue(emissions.hasRole(admin, address(timelock)));
        assertTrue(credits.hasRole(admin, address(timelock)));
        assertTrue(registry.hasRole(admin, address(timelock)));
        assertTrue(distributor.hasRole(admin, address(timelock)));
        assertFalse(emissions.hasRole(admin, address(this)));
        assertFalse(credits.hasRole(admin, address(this)));
        assertFalse(registry.hasRole(admin, address(this)));
        assertFalse(distributor.hasRole(admin, address(this)));
        assertFalse(timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), address(this)));
        assertTrue(timelock.hasRole(timelock.PROPOSER_ROLE(), address(governor)));
    }

    function test_RevertWhen_DeployerTriesToChangeParameters() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), bytes32(0))
        );
        distributor.setChallengeWindow(0);
    }
}
