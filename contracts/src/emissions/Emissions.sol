// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {GroundworkToken} from "../token/GroundworkToken.sol";

/// @title Emissions
/// @notice The token's only minter. It mints a genesis allocation once, at construction, and then
/// one emission per epoch by a schedule fixed at deployment: `initialEpochEmission`, multiplied by
/// `decayNumerator / decayDenominator` every `decayPeriodEpochs` epochs (a halving is 1/2; Curve's
/// yearly fixed-coefficient decay is e.g. 0.841). An epoch's emission is released (minted to the
/// rewards pool) once, after the epoch ends, and split across networks by governance-set weights.
/// Nothing beyond the schedule can ever be minted: there is no other path to `token.mint`.
contract Emissions is AccessControl {
    /// @dev Fixed-point base for the decay factor (27 decimals keeps 10,000 periods exact enough).
    uint256 private constant RAY = 1e27;
    /// @notice Loops over networks stay bounded.
    uint256 public constant MAX_NETWORKS = 32;

    GroundworkToken public immutable token;
    /// @notice Start of epoch 0 (unix seconds).
    uint256 public immutable genesisTime;
    /// @notice Length of an epoch in seconds.
    uint256 public immutable epochDuration;
    /// @notice Emission of each epoch in the first decay period.
    uint256 public immutable initialEpochEmission;
    /// @notice Number of epochs between two decay steps.
    uint256 public immutable decayPeriodEpochs;
    /// @notice Share of emission kept at each decay step, as numerator / denominator.
    uint256 public immutable decayNumerator;
    uint256 public immutable decayDenominator;
    /// @notice Tokens minted at construction (outside the per-epoch schedule, inside the cap).
    uint256 public immutable genesisSupply;

    /// @notice Where released emissions go (the reward distributor).
    address public rewardsPool;
    /// @notice Everything released to each pool, ever.
    mapping(address pool => uint256) public releasedTo;
    /// @notice Everything released, ever (genesis excluded).
    uint256 public totalReleased;
    /// @notice Whether an epoch's emission was released.
    mapping(uint256 epoch => bool) public released;
    /// @notice Each network's part of an epoch's released emission.
    mapping(uint256 epoch => mapping(bytes32 network => uint256)) public networkBudget;

    bytes32[] private _networks;
    mapping(bytes32 network => uint256) private _weight;
    mapping(bytes32 network => bool) private _known;
    uint256 public totalWeight;

    event GenesisMinted(address indexed to, uint256 amount);
    event EpochReleased(uint256 indexed epoch, address indexed pool, uint256 amount, uint256 scheduled);
    event NetworkBudgetSet(uint256 indexed epoch, bytes32 indexed network, uint256 amount);
    event NetworkWeightSet(bytes32 indexed network, uint256 weight);
    event RewardsPoolSet(address indexed pool);

    error ZeroAddress(string what);
    error InvalidSchedule(string why);
    error LengthMismatch(uint256 recipients, uint256 amounts);
    /// @notice `epoch` has not ended yet; the current epoch is `current`.
    error EpochNotEnded(uint256 epoch, uint256 current);
    error EpochAlreadyReleased(uint256 epoch);
    error NoRewardsPool();
    error NoWeightedNetwork();
    error ZeroNetwork();
    error TooManyNetworks(uint256 max);

    struct Schedule {
        uint256 genesisTime;
        uint256 epochDuration;
        uint256 initialEpochEmission;
        uint256 decayPeriodEpochs;
        uint256 decayNumerator;
        uint256 decayDenominator;
    }

    /// @param token_ The token; its immutable minter must be this contract's address.
    /// @param admin Holder of DEFAULT_ADMIN_ROLE (the timelock).
    /// @param schedule The emission schedule, fixed forever.
    /// @param genesisRecipients Accounts given the genesis allocation (treasury, contributors).
    /// @param genesisAmounts Their amounts.
    constructor(
        GroundworkToken token_,
        address admin,
        Schedule memory schedule,
        address[] memory genesisRecipients,
        uint256[] memory genesisAmounts
    ) {
        if (address(token_) == address(0)) revert ZeroAddress("token");
        if (admin == address(0)) revert ZeroAddress("admin");
        if (schedule.epochDuration == 0) revert InvalidSchedule("epochDuration is zero");
        if (schedule.decayPeriodEpochs == 0) revert InvalidSchedule("decayPeriodEpochs is zero");
        if (schedule.decayDenominator == 0 || schedule.decayNumerator > schedule.decayDenominator) {
            revert InvalidSchedule("decay must be a fraction numerator/denominator <= 1");
        }
        if (schedule.initialEpochEmission > type(uint128).max) revert InvalidSchedule("initialEpochEmission too large");
        if (genesisRecipients.length != genesisAmounts.length) {
            revert LengthMismatch(genesisRecipients.length, genesisAmounts.length);
        }
        token = token_;
        genesisTime = schedule.genesisTime;
        epochDuration = schedule.epochDuration;
        initialEpochEmission = schedule.initialEpochEmission;
        decayPeriodEpochs = schedule.decayPeriodEpochs;
        decayNumerator = schedule.decayNumerator;
        decayDenominator = schedule.decayDenominator;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);

        uint256 minted;
        for (uint256 i; i < genesisRecipients.length; ++i) {
            if (genesisRecipients[i] == address(0)) revert ZeroAddress("genesis recipient");
            token_.mint(genesisRecipients[i], genesisAmounts[i]);
            minted += genesisAmounts[i];
            emit GenesisMinted(genesisRecipients[i], genesisAmounts[i]);
        }
        genesisSupply = minted;
    }

    // ------------------------------------------------------------------ schedule

    /// @notice The epoch running now (0 before genesis too; check `genesisTime`).
    function currentEpoch() public view returns (uint256) {
        if (block.timestamp < genesisTime) return 0;
        return (block.timestamp - genesisTime) / epochDuration;
    }

    /// @notice Whether `epoch` has ended.
    function epochEnded(uint256 epoch) public view returns (bool) {
        return block.timestamp >= genesisTime + (epoch + 1) * epochDuration;
    }

    /// @notice The scheduled emission of `epoch`: initial × (num/den)^(epoch / period), rounded down.
    function scheduledEmission(uint256 epoch) public view returns (uint256) {
        uint256 steps = epoch / decayPeriodEpochs;
        if (steps == 0 || decayNumerator == decayDenominator) return initialEpochEmission;
        if (decayNumerator == 0) return 0;
        uint256 factor = _rpow(Math.mulDiv(decayNumerator, RAY, decayDenominator), steps);
        return Math.mulDiv(initialEpochEmission, factor, RAY);
    }

    /// @dev x^n in RAY fixed point by squaring; each step rounds down, so the result never
    /// exceeds the exact power and the schedule can only undershoot.
    function _rpow(uint256 x, uint256 n) private pure returns (uint256 z) {
        z = RAY;
        while (n > 0) {
            if (n & 1 == 1) z = Math.mulDiv(z, x, RAY);
            n >>= 1;
            if (n > 0) x = Math.mulDiv(x, x, RAY);
            if (z == 0) return 0;
        }
    }

    // ------------------------------------------------------------------ release

    /// @notice Mints `epoch`'s emission to the rewards pool and records each network's budget.
    /// Anyone may call it once the epoch has ended; each epoch is released once. The amount is
    /// the scheduled emission, cut to what the token's cap still allows.
    /// @dev Rounding: each network gets floor(amount × weight / totalWeight); the remainder of the
    /// division goes to the first network with a positive weight, so budgets sum to the amount.
    function release(uint256 epoch) external returns (uint256 amount) {
        if (!epochEnded(epoch)) revert EpochNotEnded(epoch, currentEpoch());
        if (released[epoch]) revert EpochAlreadyReleased(epoch);
        address pool = rewardsPool;
        if (pool == address(0)) revert NoRewardsPool();
        uint256 weightSum = totalWeight;
        if (weightSum == 0) revert NoWeightedNetwork();

        uint256 scheduled = scheduledEmission(epoch);
        uint256 room = token.cap() - token.totalSupply();
        amount = scheduled < room ? scheduled : room;

        released[epoch] = true;
        releasedTo[pool] += amount;
        totalReleased += amount;

        uint256 allocated;
        bytes32 first;
        uint256 n = _networks.length;
        for (uint256 i; i < n; ++i) {
            bytes32 network = _networks[i];
            uint256 weight = _weight[network];
            if (weight == 0) continue;
            if (first == bytes32(0)) first = network;
            uint256 share = (amount * weight) / weightSum;
            networkBudget[epoch][network] = share;
            allocated += share;
        }
        networkBudget[epoch][first] += amount - allocated;
        for (uint256 i; i < n; ++i) {
            bytes32 network = _networks[i];
            if (_weight[network] != 0) emit NetworkBudgetSet(epoch, network, networkBudget[epoch][network]);
        }
        emit EpochReleased(epoch, pool, amount, scheduled);
        if (amount > 0) token.mint(pool, amount);
    }

    // ------------------------------------------------------------------ networks

    /// @notice All networks ever added, with weight zero for inactive ones.
    function networks() external view returns (bytes32[] memory ids, uint256[] memory weights) {
        ids = _networks;
        weights = new uint256[](ids.length);
        for (uint256 i; i < ids.length; ++i) {
            weights[i] = _weight[ids[i]];
        }
    }

    /// @notice Whether `network` was added (devices may register for it).
    function isNetwork(bytes32 network) external view returns (bool) {
        return _known[network];
    }

    /// @notice `network`'s share of each epoch's emission, relative to the other weights.
    function weightOf(bytes32 network) external view returns (uint256) {
        return _weight[network];
    }

    // ------------------------------------------------------------------ governance

    /// @notice Adds `network` or changes its weight (0 keeps it registered but unpaid). Timelock only.
    function setNetworkWeight(bytes32 network, uint256 weight) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (network == bytes32(0)) revert ZeroNetwork();
        if (!_known[network]) {
            if (_networks.length == MAX_NETWORKS) revert TooManyNetworks(MAX_NETWORKS);
            _known[network] = true;
            _networks.push(network);
        }
        totalWeight = totalWeight - _weight[network] + weight;
        _weight[network] = weight;
        emit NetworkWeightSet(network, weight);
    }

    /// @notice Sets where released emissions go. Timelock only.
    function setRewardsPool(address pool) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (pool == address(0)) revert ZeroAddress("pool");
        rewardsPool = pool;
        emit RewardsPoolSet(pool);
    }
}
