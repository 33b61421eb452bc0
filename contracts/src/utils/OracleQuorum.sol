// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IOracleSet} from "../interfaces/IOracleSet.sol";

/// @title OracleQuorum
/// @notice Checks M-of-N oracle signatures over an EIP-712 digest against the system's one oracle
/// set (the RewardDistributor's `isOracle` and `quorum`), in the same format `postRoot` takes:
/// 65-byte (r, s, v) signatures concatenated in strictly increasing signer order. The same format
/// means the oracle's signing code (concatenate in ascending address order) serves every message,
/// and the ordering rules out a signer counted twice without a loop over seen signers.
///
/// Reading the set from the distributor, not keeping a copy, means rotating a compromised oracle
/// key is one governance call that takes effect for roots, settlements and slash orders at once;
/// a copy could be forgotten and keep honouring the old key.
abstract contract OracleQuorum {
    /// @notice Where the oracle set and quorum are read (the RewardDistributor).
    IOracleSet public immutable oracleSet;

    error ZeroAddress(string what);
    error SignatureLength(uint256 length);
    error InvalidSignature(uint256 index);
    error NotOracle(address signer, uint256 index);
    /// @notice Signers must be in strictly increasing address order (this rules out duplicates).
    error SignersNotSorted(uint256 index);
    error QuorumNotMet(uint256 signatures, uint256 quorum);

    constructor(IOracleSet oracleSet_) {
        if (address(oracleSet_) == address(0)) revert ZeroAddress("oracleSet");
        oracleSet = oracleSet_;
    }

    /// @dev Reverts unless `signatures` holds at least `quorum` valid signatures of distinct
    /// oracles over `digest`, sorted by signer. Every signature given must be an oracle's: a
    /// stray one is an error, not ignored, so a relayer cannot pad a quorum with junk.
    function _checkQuorum(bytes32 digest, bytes calldata signatures) internal view {
        if (signatures.length % 65 != 0) revert SignatureLength(signatures.length);
        uint256 count = signatures.length / 65;
        uint256 needed = oracleSet.quorum();
        if (count < needed) revert QuorumNotMet(count, needed);
        address last;
        for (uint256 i; i < count; ++i) {
            bytes calldata sig = signatures[i * 65:(i + 1) * 65];
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, sig);
            if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(i);
            if (!oracleSet.isOracle(signer)) revert NotOracle(signer, i);
            if (signer <= last) revert SignersNotSorted(i);
            last = signer;
        }
    }
}
