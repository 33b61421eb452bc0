// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Emissions} from "../emissions/Emissions.sol";

/// @title RewardDistributor
/// @notice Pays rewards from cumulative Merkle roots. Each epoch an M-of-N quorum of oracle keys
/// signs (EIP-712) `RewardRoot(epoch, root, total, artifactHash)`: `root` commits to leaves
/// `(address account, uint256 cumulativeAmount)` in OpenZeppelin StandardMerkleTree encoding,
/// `total` is the sum of all cumulative amounts, `artifactHash` the content hash of the epoch
/// artifact from which anyone can recompute the root.
///
/// A posted root becomes claimable after a challenge window during which a guardian (or
/// governance) can revoke it; meanwhile the previous root stays claimable (as Angle Merkl's
/// dispute window). A new root can be posted only once the last one has left its window, so the
/// claimable root is always one of the two stored. `claim` pays `cumulativeAmount - claimed` and
/// names the root it proves against, so it cannot race a root update (1inch CumulativeMerkleDrop).
contract RewardDistributor is AccessControl, EIP712 {
    using SafeERC20 for IERC20;

    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    bytes32 public constant ROOT_TYPEHASH =
        keccak256("RewardRoot(uint64 epoch,bytes32 root,uint256 total,bytes32 artifactHash)");
    /// @notice Bounds the oracle set so posting stays cheap and loops stay bounded.
    uint256 public constant MAX_ORACLES = 16;
    uint256 public constant MAX_CHALLENGE_WINDOW = 30 days;

    /// @dev Two storage slots: the root, then total | epoch | activeAt.
    struct Root {
        bytes32 root;
        uint128 total;
        uint64 epoch;
        uint64 activeAt;
    }

    IERC20 public immutable token;
    Emissions public immutable emissions;
    uint256 private immutable _genesisTime;
    uint256 private immutable _epochDuration;

    Root private _latest;
    Root private _previous;

    /// @notice What each account has been paid, ever (the cumulative amount last claimed).
    mapping(address account => uint256) public claimed;
    /// @notice Everything paid, ever.
    uint256 public totalClaimed;

    /// @notice Seconds a posted root waits before it can be claimed against.
    uint64 public challengeWindow;
    /// @notice Signatures needed to post a root.
    uint8 public quorum;
    address[] private _oracles;
    mapping(address => bool) public isOracle;
    /// @notice Revoked (epoch, root) pairs: their signatures can never be posted again.
    mapping(bytes32 => bool) public revoked;

    struct Claim {
        address account;
        uint256 cumulativeAmount;
        bytes32[] proof;
    }

    event RootPosted(
        uint64 indexed epoch, bytes32 indexed root, uint256 total, bytes32 artifactHash, uint256 activeAt
    );
    event RootRevoked(uint64 indexed epoch, bytes32 indexed root, address indexed by);
    event Claimed(address indexed account, address indexed caller, uint256 amount, uint256 cumulativeAmount, bytes32 root);
    event OracleSetChanged(address[] oracles, uint256 quorum);
    event ChallengeWindowSet(uint256 challengeWindow);

    error ZeroAddress(string what);
    error ZeroRoot();
    /// @notice Roots must be posted for increasing epochs; the last one was `lastEpoch`.
    error EpochNotAfterLatest(uint64 epoch, uint64 lastEpoch);
    error EpochNotEnded(uint64 epoch, uint256 currentEpoch);
    /// @notice The last posted root is still in its challenge window, until `activeAt`.
    error LatestRootInChallenge(uint64 epoch, uint256 activeAt);
    /// @notice Cumulative totals never decrease.
    error TotalDecreased(uint256 total, uint256 previousTotal);
    /// @notice The root promises more than the emissions released to this pool.
    error TotalExceedsReleased(uint256 total, uint256 released);
    error TotalTooLarge(uint256 total);
    error RootWasRevoked(uint64 epoch, bytes32 root);
    error SignatureLength(uint256 length);
    error InvalidSignature(uint256 index);
    error NotOracle(address signer, uint256 index);
    /// @notice Signers must be in strictly increasing address order (this rules out duplicates).
    error SignersNotSorted(uint256 index);
    error QuorumNotMet(uint256 signatures, uint256 quorum);
    error NoPendingRoot();
    error NoClaimableRoot();
    /// @notice The claim proves against `expected` but the claimable root is `current`.
    error RootMismatch(bytes32 expected, bytes32 current);
    error InvalidProof(address account, uint256 cumulativeAmount);
    error NothingToClaim(address account, uint256 cumulativeAmount, uint256 alreadyClaimed);
    error ClaimExceedsRootTotal(uint256 totalClaimed, uint256 rootTotal);
    error InvalidOracleSet(string why);
    error ChallengeWindowTooLong(uint256 window, uint256 max);

    constructor(
        IERC20 token_,
        Emissions emissions_,
        address admin,
        address guardian,
        address[] memory oracles_,
        uint256 quorum_,
        uint64 challengeWindow_
    ) EIP712("Groundwork RewardDistributor", "1") {
        if (address(token_) == address(0)) revert ZeroAddress("token");
        if (address(emissions_) == address(0)) revert ZeroAddress("emissions");
        if (admin == address(0)) revert ZeroAddress("admin");
        token = token_;
        emissions = emissions_;
        _genesisTime = emissions_.genesisTime();
        _epochDuration = emissions_.epochDuration();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GUARDIAN_ROLE, admin);
        if (guardian != address(0)) _grantRole(GUARDIAN_ROLE, guardian);
        _setOracles(oracles_, quorum_);
        _setChallengeWindow(challengeWindow_);
        // Pre-fill the second word of both root slots (a zero root with activeAt 1 means "none"),
        // so the first two posts overwrite a non-zero word (5k gas) instead of filling an empty
        // one (22.1k): every post then costs under 100k gas, not only the later ones.
        _latest.activeAt = 1;
        _previous.activeAt = 1;
    }

    // ------------------------------------------------------------------ views

    /// @notice The EIP-712 digest oracles sign for a root.
    function rootDigest(uint64 epoch, bytes32 root, uint256 total, bytes32 artifactHash)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(ROOT_TYPEHASH, epoch, root, total, artifactHash)));
    }

    /// @notice The root claims prove against now (zero root if none yet).
    function claimableRoot() public view returns (Root memory) {
        Root memory latest = _latest;
        return latest.activeAt <= block.timestamp ? latest : _previous;
    }

    /// @notice The last posted root, claimable or still in its challenge window.
    function latestRoot() external view returns (Root memory) {
        return _latest;
    }

    /// @notice The oracle set.
    function oracles() external view returns (address[] memory) {
        return _oracles;
    }

    // ------------------------------------------------------------------ oracle quorum

    /// @notice Posts the cumulative reward root for `epoch`. Anyone may submit it; it counts only
    /// with at least `quorum` oracle signatures, 65 bytes each (r, s, v), concatenated in
    /// increasing order of signer address.
    function postRoot(uint64 epoch, bytes32 root, uint256 total, bytes32 artifactHash, bytes calldata signatures)
        external
    {
        if (root == bytes32(0)) revert ZeroRoot();
        if (total > type(uint128).max) revert TotalTooLarge(total);
        Root memory latest = _latest;
        if (latest.root != bytes32(0)) {
            if (epoch <= latest.epoch) revert EpochNotAfterLatest(epoch, latest.epoch);
            if (latest.activeAt > block.timestamp) revert LatestRootInChallenge(latest.epoch, latest.activeAt);
            if (total < latest.total) revert TotalDecreased(total, latest.total);
        }
        if (block.timestamp < _genesisTime + (uint256(epoch) + 1) * _epochDuration) {
            revert EpochNotEnded(epoch, emissions.currentEpoch());
        }
        uint256 releasedHere = emissions.releasedTo(address(this));
        if (total > releasedHere) revert TotalExceedsReleased(total, releasedHere);
        if (revoked[_revocationKey(epoch, root)]) revert RootWasRevoked(epoch, root);

        _checkQuorum(rootDigest(epoch, root, total, artifactHash), signatures);

        uint256 activeAt = block.timestamp + challengeWindow;
        _previous = latest;
        // forge-lint: disable-next-line(unsafe-typecast) total <= uint128 max is checked above; activeAt is a timestamp
        _latest = Root(root, uint128(total), epoch, uint64(activeAt));
        emit RootPosted(epoch, root, total, artifactHash, activeAt);
    }

    /// @notice Revokes the latest root while it is still in its challenge window; the previous
    /// root stays claimable and the revoked one can never be posted again. Guardian or governance.
    function revokeRoot() external onlyRole(GUARDIAN_ROLE) {
        Root memory latest = _latest;
        if (latest.root == bytes32(0) || latest.activeAt <= block.timestamp) revert NoPendingRoot();
        revoked[_revocationKey(latest.epoch, latest.root)] = true;
        _latest = _previous;
        emit RootRevoked(latest.epoch, latest.root, msg.sender);
    }

    // ------------------------------------------------------------------ claims

    /// @notice Pays `account` the difference between `cumulativeAmount` and what it was already
    /// paid. Anyone may call it for any account; the tokens always go to the account.
    /// @param expectedRoot The root `proof` is for; the call fails if it is not the claimable one.
    /// @return amount The amount paid.
    function claim(address account, uint256 cumulativeAmount, bytes32 expectedRoot, bytes32[] calldata proof)
        external
        returns (uint256 amount)
    {
        Root memory root = _claimableFor(expectedRoot);
        amount = _claim(account, cumulativeAmount, root, proof);
        if (amount == 0) revert NothingToClaim(account, cumulativeAmount, claimed[account]);
        token.safeTransfer(account, amount);
    }

    /// @notice Claims for many accounts against one root. Accounts with nothing left to claim are
    /// skipped (someone may have claimed for them first); a bad proof fails the whole batch.
    /// @return total The amount paid in all.
    function claimMany(Claim[] calldata claims, bytes32 expectedRoot) external returns (uint256 total) {
        Root memory root = _claimableFor(expectedRoot);
        for (uint256 i; i < claims.length; ++i) {
            Claim calldata c = claims[i];
            uint256 amount = _claim(c.account, c.cumulativeAmount, root, c.proof);
            if (amount > 0) {
                total += amount;
                token.safeTransfer(c.account, amount);
            }
        }
    }

    // ------------------------------------------------------------------ governance

    /// @notice Replaces the oracle set and quorum. Timelock only.
    function setOracles(address[] calldata oracles_, uint256 quorum_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setOracles(oracles_, quorum_);
    }

    /// @notice Sets the challenge window for roots posted from now on. Timelock only.
    function setChallengeWindow(uint64 window) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setChallengeWindow(window);
    }

    // ------------------------------------------------------------------ internals

    function _claimableFor(bytes32 expectedRoot) private view returns (Root memory root) {
        root = claimableRoot();
        if (root.root == bytes32(0)) revert NoClaimableRoot();
        if (root.root != expectedRoot) revert RootMismatch(expectedRoot, root.root);
    }

    /// @dev Verifies the proof and books the claim; returns 0 if nothing is left to pay.
    function _claim(address account, uint256 cumulativeAmount, Root memory root, bytes32[] calldata proof)
        private
        returns (uint256 amount)
    {
        if (account == address(0)) revert ZeroAddress("account");
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount))));
        if (!MerkleProof.verifyCalldata(proof, root.root, leaf)) revert InvalidProof(account, cumulativeAmount);
        uint256 already = claimed[account];
        if (cumulativeAmount <= already) return 0;
        amount = cumulativeAmount - already;
        uint256 newTotal = totalClaimed + amount;
        if (newTotal > root.total) revert ClaimExceedsRootTotal(newTotal, root.total);
        claimed[account] = cumulativeAmount;
        totalClaimed = newTotal;
        emit Claimed(account, msg.sender, amount, cumulativeAmount, root.root);
    }

    function _checkQuorum(bytes32 digest, bytes calldata signatures) private view {
        if (signatures.length % 65 != 0) revert SignatureLength(signatures.length);
        uint256 count = signatures.length / 65;
        if (count < quorum) revert QuorumNotMet(count, quorum);
        address last;
        for (uint256 i; i < count; ++i) {
            bytes calldata sig = signatures[i * 65:(i + 1) * 65];
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, sig);
            if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(i);
            if (!isOracle[signer]) revert NotOracle(signer, i);
            if (signer <= last) revert SignersNotSorted(i);
            last = signer;
        }
    }

    function _revocationKey(uint64 epoch, bytes32 root) private pure returns (bytes32) {
        return keccak256(abi.encode(epoch, root));
    }

    function _setOracles(address[] memory oracles_, uint256 quorum_) private {
        uint256 n = oracles_.length;
        if (n == 0 || n > MAX_ORACLES) revert InvalidOracleSet("needs 1 to 16 oracles");
        if (quorum_ == 0 || quorum_ > n) revert InvalidOracleSet("quorum must be between 1 and the number of oracles");
        for (uint256 i; i < _oracles.length; ++i) {
            isOracle[_oracles[i]] = false;
        }
        for (uint256 i; i < n; ++i) {
            if (oracles_[i] == address(0)) revert InvalidOracleSet("zero address");
            if (isOracle[oracles_[i]]) revert InvalidOracleSet("duplicate oracle");
            isOracle[oracles_[i]] = true;
        }
        _oracles = oracles_;
        // forge-lint: disable-next-line(unsafe-typecast) quorum_ <= n <= MAX_ORACLES (16)
        quorum = uint8(quorum_);
        emit OracleSetChanged(oracles_, quorum_);
    }

    function _setChallengeWindow(uint64 window) private {
        if (window > MAX_CHALLENGE_WINDOW) revert ChallengeWindowTooLong(window, MAX_CHALLENGE_WINDOW);
        challengeWindow = window;
        emit ChallengeWindowSet(window);
    }
}
