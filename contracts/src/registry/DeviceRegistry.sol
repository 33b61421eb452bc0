// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {P256} from "@openzeppelin/contracts/utils/cryptography/P256.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ServiceCredits} from "../credits/ServiceCredits.sol";
import {Emissions} from "../emissions/Emissions.sol";
import {GroundworkToken} from "../token/GroundworkToken.sol";
import {H3Cell} from "./H3Cell.sol";

/// @title DeviceRegistry
/// @notice Every device is an ERC-721 owned by its operator. The NFT holds the device's P-256
/// public key, its network, an optional H3 location and a stake in token. The device id is the
/// keccak256 of its public key, so one key is one device.
///
/// Registration needs the device's own signature (P-256, verified with OpenZeppelin's P256: the
/// RIP-7212/EIP-7951 precompile where the chain has it, Solidity otherwise) over the EIP-712
/// message RegisterDevice(owner, network, nonce) in this registry's domain (which fixes chain id
/// and registry address). The device signs the 32-byte EIP-712 digest with ECDSA-SHA256, as secure
/// elements and node:crypto do, so the contract checks the signature against sha256(digest).
contract DeviceRegistry is ERC721, AccessControl, EIP712 {
    using SafeERC20 for GroundworkToken;
    using H3Cell for uint64;

    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    bytes32 public constant REGISTER_TYPEHASH = keccak256("RegisterDevice(address owner,bytes32 network,uint256 nonce)");

    struct Device {
        bytes32 keyX;
        bytes32 keyY;
        bytes32 network;
        uint64 location; // H3 cell, 0 = none asserted
        uint64 registeredAt;
        uint128 stake;
        uint128 unstaking; // requested out, still slashable until withdrawn
        uint64 unstakeReadyAt;
    }

    GroundworkToken public immutable token;
    ServiceCredits public immutable credits;
    Emissions public immutable emissions;

    /// @notice Credits charged to register a device (Helium: 4,000,000 DC = $40).
    uint256 public onboardingFee;
    /// @notice Credits charged to assert or change a location (Helium: 1,000,000 DC = $10).
    uint256 public locationFee;
    /// @notice Token a device must stake to register.
    uint256 public minStake;
    /// @notice Seconds between an unstake request and the withdrawal.
    uint256 public unstakeDelay;

    mapping(uint256 deviceId => Device) private _devices;
    /// @notice Next registration nonce for each device id (a signature is good once).
    mapping(uint256 deviceId => uint256) public nonces;

    event DeviceRegistered(
        uint256 indexed deviceId, address indexed owner, bytes32 indexed network, bytes32 keyX, bytes32 keyY, uint256 stake
    );
    event LocationAsserted(uint256 indexed deviceId, uint64 location, uint256 fee);
    event StakeAdded(uint256 indexed deviceId, address indexed from, uint256 amount, uint256 stake);
    event UnstakeRequested(uint256 indexed deviceId, uint256 amount, uint256 unstaking, uint256 readyAt);
    event UnstakeWithdrawn(uint256 indexed deviceId, address indexed to, uint256 amount);
    event DeviceSlashed(
        uint256 indexed deviceId, address indexed slasher, uint256 requested, uint256 slashed, bytes32 evidenceHash
    );
    event FeesSet(uint256 onboardingFee, uint256 locationFee);
    event StakeRulesSet(uint256 minStake, uint256 unstakeDelay);

    error ZeroAddress(string what);
    error ZeroAmount(string what);
    error UnknownNetwork(bytes32 network);
    error InvalidPublicKey(bytes32 keyX, bytes32 keyY);
    error DeviceAlreadyRegistered(uint256 deviceId);
    /// @notice The P-256 signature does not verify for this key, owner, network and nonce.
    error InvalidDeviceSignature(uint256 deviceId, address owner, uint256 nonce);
    error StakeBelowMinimum(uint256 stake, uint256 minStake);
    error InvalidLocation(uint64 location);
    error NotDeviceOwner(uint256 deviceId, address caller, address owner);
    error InsufficientStake(uint256 deviceId, uint256 stake, uint256 requested);
    error UnstakeNotReady(uint256 deviceId, uint256 readyAt, uint256 nowTime);
    error NothingToWithdraw(uint256 deviceId);
    error NothingToSlash(uint256 deviceId);
    error UnstakeDelayTooLong(uint256 delay);

    struct Config {
        uint256 onboardingFee;
        uint256 locationFee;
        uint256 minStake;
        uint256 unstakeDelay;
    }

    constructor(
        GroundworkToken token_,
        ServiceCredits credits_,
        Emissions emissions_,
        address admin,
        Config memory config
    ) ERC721("Groundwork Device", "GWD") EIP712("Groundwork DeviceRegistry", "1") {
        if (address(token_) == address(0)) revert ZeroAddress("token");
        if (address(credits_) == address(0)) revert ZeroAddress("credits");
        if (address(emissions_) == address(0)) revert ZeroAddress("emissions");
        if (admin == address(0)) revert ZeroAddress("admin");
        token = token_;
        credits = credits_;
        emissions = emissions_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setFees(config.onboardingFee, config.locationFee);
        _setStakeRules(config.minStake, config.unstakeDelay);
    }

    // ------------------------------------------------------------------ views

    /// @notice The device id of a P-256 public key.
    function deviceIdOf(bytes32 keyX, bytes32 keyY) public pure returns (uint256) {
        return uint256(keccak256(abi.encode(keyX, keyY)));
    }

    /// @notice The EIP-712 digest a device signs (with ECDSA-SHA256) to be registered by `owner`.
    function registrationDigest(address owner, bytes32 network, uint256 nonce) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(REGISTER_TYPEHASH, owner, network, nonce)));
    }

    /// @notice Everything stored about a device (reverts if it does not exist).
    function device(uint256 deviceId) external view returns (Device memory) {
        _requireOwned(deviceId);
        return _devices[deviceId];
    }

    // ------------------------------------------------------------------ operators

    /// @notice Registers the device with public key (`keyX`, `keyY`) to the caller on `network`,
    /// staking `stake` token (approve this contract) and paying the onboarding fee in credits
    /// (allow this contract to spend them), plus the location fee if `location` is not 0.
    /// @param r,s The device's P-256 signature (low-s) over sha256(registrationDigest(...)).
    /// @return deviceId The new NFT's id.
    function register(
        bytes32 network,
        bytes32 keyX,
        bytes32 keyY,
        uint64 location,
        uint256 stake,
        bytes32 r,
        bytes32 s
    ) external returns (uint256 deviceId) {
        if (!emissions.isNetwork(network)) revert UnknownNetwork(network);
        if (!P256.isValidPublicKey(keyX, keyY)) revert InvalidPublicKey(keyX, keyY);
        deviceId = deviceIdOf(keyX, keyY);
        if (_ownerOf(deviceId) != address(0)) revert DeviceAlreadyRegistered(deviceId);
        uint256 nonce = nonces[deviceId];
        bytes32 h = sha256(abi.encodePacked(registrationDigest(msg.sender, network, nonce)));
        if (!P256.verify(h, r, s, keyX, keyY)) revert InvalidDeviceSignature(deviceId, msg.sender, nonce);
        if (stake == 0) revert ZeroAmount("stake");
        if (stake < minStake) revert StakeBelowMinimum(stake, minStake);
        if (location != 0 && !location.isValidCell()) revert InvalidLocation(location);

        nonces[deviceId] = nonce + 1;
        _devices[deviceId] = Device({
            keyX: keyX,
            keyY: keyY,
            network: network,
            location: location,
            registeredAt: uint64(block.timestamp),
            stake: SafeCast.toUint128(stake),
            unstaking: 0,
            unstakeReadyAt: 0
        });
        _mint(msg.sender, deviceId);
        emit DeviceRegistered(deviceId, msg.sender, network, keyX, keyY, stake);

        token.safeTransferFrom(msg.sender, address(this), stake);
        uint256 fee = onboardingFee;
        if (fee > 0) credits.spend(msg.sender, fee, network, deviceId);
        if (location != 0) _chargeLocation(deviceId, network, location);
    }

    /// @notice Asserts (or moves) the device's H3 location, paying the location fee in credits.
    function assertLocation(uint256 deviceId, uint64 location) external {
        _requireDeviceOwner(deviceId);
        if (location == 0 || !location.isValidCell()) revert InvalidLocation(location);
        Device storage d = _devices[deviceId];
        d.location = location;
        _chargeLocation(deviceId, d.network, location);
    }

    /// @notice Adds `amount` of the caller's token to the device's stake. Anyone may top up.
    function addStake(uint256 deviceId, uint256 amount) external {
        _requireOwned(deviceId);
        if (amount == 0) revert ZeroAmount("amount");
        Device storage d = _devices[deviceId];
        uint256 stake = d.stake + amount;
        d.stake = SafeCast.toUint128(stake);
        emit StakeAdded(deviceId, msg.sender, amount, stake);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Starts unstaking `amount`; it can be withdrawn `unstakeDelay` seconds from now and
    /// stays slashable until then. A new request restarts the delay for everything unstaking.
    function requestUnstake(uint256 deviceId, uint256 amount) external {
        _requireDeviceOwner(deviceId);
        if (amount == 0) revert ZeroAmount("amount");
        Device storage d = _devices[deviceId];
        if (amount > d.stake) revert InsufficientStake(deviceId, d.stake, amount);
        // forge-lint: disable-next-line(unsafe-typecast) amount <= d.stake (a uint128) is checked above
        d.stake -= uint128(amount);
        d.unstaking = SafeCast.toUint128(d.unstaking + amount);
        uint256 readyAt = block.timestamp + unstakeDelay;
        // forge-lint: disable-next-line(unsafe-typecast) a timestamp plus at most 365 days
        d.unstakeReadyAt = uint64(readyAt);
        emit UnstakeRequested(deviceId, amount, d.unstaking, readyAt);
    }

    /// @notice Sends the device's matured unstaked token to its owner.
    function withdrawUnstaked(uint256 deviceId) external {
        address owner = _requireDeviceOwner(deviceId);
        Device storage d = _devices[deviceId];
        uint256 amount = d.unstaking;
        if (amount == 0) revert NothingToWithdraw(deviceId);
        if (block.timestamp < d.unstakeReadyAt) revert UnstakeNotReady(deviceId, d.unstakeReadyAt, block.timestamp);
        d.unstaking = 0;
        d.unstakeReadyAt = 0;
        emit UnstakeWithdrawn(deviceId, owner, amount);
        token.safeTransfer(owner, amount);
    }

    // ------------------------------------------------------------------ slashing

    /// @notice Slashes up to `amount` of the device's stake (active first, then unstaking) for the
    /// fraud proven by `evidenceHash` (the hash of the oracle's evidence artifact); the token is
    /// burned. Slasher role only.
    function slash(uint256 deviceId, uint256 amount, bytes32 evidenceHash) external onlyRole(SLASHER_ROLE) {
        _requireOwned(deviceId);
        if (amount == 0) revert ZeroAmount("amount");
        Device storage d = _devices[deviceId];
        uint256 fromStake = amount < d.stake ? amount : d.stake;
        uint256 rest = amount - fromStake;
        uint256 fromUnstaking = rest < d.unstaking ? rest : d.unstaking;
        uint256 slashed = fromStake + fromUnstaking;
        if (slashed == 0) revert NothingToSlash(deviceId);
        // forge-lint: disable-next-line(unsafe-typecast) fromStake <= d.stake
        d.stake -= uint128(fromStake);
        // forge-lint: disable-next-line(unsafe-typecast) fromUnstaking <= d.unstaking
        d.unstaking -= uint128(fromUnstaking);
        emit DeviceSlashed(deviceId, msg.sender, amount, slashed, evidenceHash);
        token.burn(slashed);
    }

    // ------------------------------------------------------------------ governance

    /// @notice Sets the onboarding and location fees, in credits. Timelock only.
    function setFees(uint256 onboardingFee_, uint256 locationFee_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setFees(onboardingFee_, locationFee_);
    }

    /// @notice Sets the minimum stake and the unstaking delay. Timelock only.
    function setStakeRules(uint256 minStake_, uint256 unstakeDelay_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setStakeRules(minStake_, unstakeDelay_);
    }

    /// @inheritdoc ERC721
    function supportsInterface(bytes4 interfaceId) public view override(ERC721, AccessControl) returns (bool) {
        return super.supportsInterface(interfaceId);
    }

    // ------------------------------------------------------------------ internals

    function _chargeLocation(uint256 deviceId, bytes32 network, uint64 location) private {
        uint256 fee = locationFee;
        emit LocationAsserted(deviceId, location, fee);
        if (fee > 0) credits.spend(ownerOf(deviceId), fee, network, deviceId);
    }

    function _requireDeviceOwner(uint256 deviceId) private view returns (address owner) {
        owner = _requireOwned(deviceId);
        if (owner != msg.sender) revert NotDeviceOwner(deviceId, msg.sender, owner);
    }

    function _setFees(uint256 onboardingFee_, uint256 locationFee_) private {
        onboardingFee = onboardingFee_;
        locationFee = locationFee_;
        emit FeesSet(onboardingFee_, locationFee_);
    }

    function _setStakeRules(uint256 minStake_, uint256 unstakeDelay_) private {
        if (unstakeDelay_ > 365 days) revert UnstakeDelayTooLong(unstakeDelay_);
        minStake = minStake_;
        unstakeDelay = unstakeDelay_;
        emit StakeRulesSet(minStake_, unstakeDelay_);
    }
}
