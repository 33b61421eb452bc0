// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {GroundworkToken} from "../token/GroundworkToken.sol";
import {IAggregatorV3} from "../interfaces/IAggregatorV3.sol";
import {WindowedCircuitBreaker} from "../utils/WindowedCircuitBreaker.sol";

/// @title ServiceCredits
/// @notice Burn-and-mint service credits. Consumers burn token to mint credits pegged to the US
/// dollar (1 credit = $0.00001, as Helium's Data Credits), then spend them on the network's
/// services. Credits cannot be transferred between accounts: there is no transfer function.
/// They are burned only by authorized spenders (service contracts, the oracle), only from
/// accounts that allowed that spender, and every spend is recorded against a network and, where
/// known, a device, so usage rewards can follow it.
///
/// Escrow contracts (ESCROW_ROLE) can also hold an account's credits: held credits leave the
/// account's spendable `balanceOf` but stay the account's, booked in `heldBy[account][holder]`.
/// From there they can only go back to the same account (`releaseHeld`) or be burned for a
/// service (`spendHeld`, which emits the same `CreditsSpent` as `spend`, so usage is recorded per
/// device whichever way the credits were paid). No function credits one account with another's
/// credits, so credits never change hands. `totalSupply` counts every credit that exists, held or
/// not: totalSupply = sum of balanceOf + totalHeld.
contract ServiceCredits is AccessControl, WindowedCircuitBreaker {
    /// @notice Spenders: service contracts and the oracle.
    bytes32 public constant SPENDER_ROLE = keccak256("SPENDER_ROLE");
    /// @notice Escrow contracts: hold credits, give them back to their owner, burn them.
    bytes32 public constant ESCROW_ROLE = keccak256("ESCROW_ROLE");
    /// @notice Helium Data Credits: $1 = 100,000 DC, so 1 credit = $0.00001.
    uint256 public constant CREDITS_PER_USD = 100_000;
    /// @notice Credits are whole units, like Data Credits.
    uint8 public constant decimals = 0;
    string public constant name = "Groundwork Service Credits";
    string public constant symbol = "GWC";

    uint256 private constant TOKEN_UNIT = 1e18;
    /// @dev Prices above this are refused as nonsense (and would overflow the conversion).
    uint256 private constant MAX_PRICE = type(uint128).max;
    uint8 private constant MAX_FEED_DECIMALS = 36;

    /// @notice The token burned to mint credits.
    GroundworkToken public immutable token;
    /// @notice USD price of one whole token, AggregatorV3-shaped.
    IAggregatorV3 public priceFeed;
    /// @notice The feed's decimals, read once when the feed is set (packed with `priceFeed`).
    uint8 public priceFeedDecimals;
    /// @notice A price older than this many seconds is refused.
    uint256 public maxPriceAge;

    /// @notice Credits each account can spend (its held credits are not included).
    mapping(address account => uint256) public balanceOf;
    /// @notice All credits in existence: every balance plus every held credit.
    uint256 public totalSupply;
    /// @notice Credits of `account` held by escrow contract `holder`. Keyed by holder so that an
    /// escrow contract can give back or burn only what it holds itself, never what another holds.
    mapping(address account => mapping(address holder => uint256)) public heldBy;
    /// @notice All held credits, of every account and holder.
    uint256 public totalHeld;
    /// @notice How many of `account`'s credits `spender` may still burn.
    mapping(address account => mapping(address spender => uint256)) public spendAllowance;
    /// @notice Credits spent on each network's services, ever.
    mapping(bytes32 network => uint256) public spentOnNetwork;
    /// @notice Credits spent on each device's services, ever (device 0 means "not attributed").
    mapping(uint256 deviceId => uint256) public spentOnDevice;

    event CreditsMinted(
        address indexed payer, address indexed to, uint256 tokensBurned, uint256 credits, int256 price
    );
    event CreditsSpent(
        address indexed account, address indexed spender, bytes32 indexed network, uint256 deviceId, uint256 credits
    );
    /// @notice `credits` of `account`'s balance went into `holder`'s escrow.
    event CreditsHeld(address indexed account, address indexed holder, uint256 credits);
    /// @notice `credits` held by `holder` went back to `account`'s balance.
    event CreditsReleased(address indexed account, address indexed holder, uint256 credits);
    event SpendAllowanceSet(address indexed account, address indexed spender, uint256 amount);
    event PriceFeedSet(address indexed feed, uint256 maxPriceAge);

    error ZeroAddress(string what);
    error ZeroAmount(string what);
    error ZeroNetwork();
    /// @notice The feed's last update at `updatedAt` is older than `maxAge` seconds at `nowTime`.
    error StalePrice(uint256 updatedAt, uint256 maxAge, uint256 nowTime);
    /// @notice The feed answered a price that is zero or negative.
    error InvalidPrice(int256 answer);
    /// @notice Burning would give `credits`, fewer than the `minCredits` the caller asked for.
    error SlippageExceeded(uint256 credits, uint256 minCredits);
    /// @notice The amount of token is too small to buy a single credit at `price`.
    error TooSmallForOneCredit(uint256 tokenAmount, int256 price);
    error InsufficientCredits(address account, uint256 balance, uint256 needed);
    error InsufficientHeld(address account, address holder, uint256 held, uint256 needed);
    error LengthMismatch(uint256 deviceIds, uint256 amounts);
    error InsufficientSpendAllowance(address account, address spender, uint256 allowance, uint256 needed);
    error InvalidMaxPriceAge(uint256 maxPriceAge);
    error InvalidFeedDecimals(uint8 decimals);

    /// @param token_ The token burned for credits.
    /// @param admin Holder of DEFAULT_ADMIN_ROLE (the timelock).
    /// @param feed USD price feed for the token.
    /// @param maxPriceAge_ Seconds a price stays usable (Helium: 10 minutes).
    /// @param breakerLimit Credits that may be minted per `breakerWindow` seconds.
    constructor(
        GroundworkToken token_,
        address admin,
        IAggregatorV3 feed,
        uint256 maxPriceAge_,
        uint256 breakerLimit,
        uint256 breakerWindow
    ) {
        if (address(token_) == address(0)) revert ZeroAddress("token");
        if (admin == address(0)) revert ZeroAddress("admin");
        token = token_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setPriceFeed(feed, maxPriceAge_);
        _configureBreaker(breakerLimit, breakerWindow);
    }

    // ------------------------------------------------------------------ consumers

    /// @notice Burns `tokenAmount` of the caller's token (approve this contract first) and mints
    /// the credits it is worth at the feed's price to `to`, rounding down.
    /// @param minCredits The fewest credits the caller accepts (protects against price moves).
    /// @return credits The credits minted.
    function mint(address to, uint256 tokenAmount, uint256 minCredits) external returns (uint256 credits) {
        if (to == address(0)) revert ZeroAddress("to");
        if (tokenAmount == 0) revert ZeroAmount("tokenAmount");
        int256 price = _price();
        credits = _creditsFor(tokenAmount, price);
        if (credits == 0) revert TooSmallForOneCredit(tokenAmount, price);
        if (credits < minCredits) revert SlippageExceeded(credits, minCredits);
        _consumeBreaker(credits);
        token.burnFrom(msg.sender, tokenAmount);
        balanceOf[to] += credits;
        totalSupply += credits;
        emit CreditsMinted(msg.sender, to, tokenAmount, credits, price);
    }

    /// @notice Lets `spender` burn up to `amount` of the caller's credits (replaces, not adds).
    function approveSpender(address spender, uint256 amount) external {
        if (spender == address(0)) revert ZeroAddress("spender");
        spendAllowance[msg.sender][spender] = amount;
        emit SpendAllowanceSet(msg.sender, spender, amount);
    }

    /// @notice Credits that `tokenAmount` of token buys now (rounded down).
    function quoteCredits(uint256 tokenAmount) external view returns (uint256) {
        return _creditsFor(tokenAmount, _price());
    }

    /// @notice Token needed now to mint at least `credits` (rounded up).
    function quoteTokens(uint256 credits) external view returns (uint256) {
        int256 price = _price();
        // forge-lint: disable-next-line(unsafe-typecast) price is in (0, MAX_PRICE], checked by _price
        uint256 usdPerToken = uint256(price);
        return Math.mulDiv(
            credits, TOKEN_UNIT * 10 ** priceFeedDecimals, usdPerToken * CREDITS_PER_USD, Math.Rounding.Ceil
        );
    }

    // ------------------------------------------------------------------ spenders

    /// @notice Burns `amount` of `account`'s credits for a service on `network`, attributed to
    /// `deviceId` (0 if no single device served it). Only spenders, within the account's allowance.
    function spend(address account, uint256 amount, bytes32 network, uint256 deviceId)
        external
        onlyRole(SPENDER_ROLE)
    {
        if (amount == 0) revert ZeroAmount("amount");
        if (network == bytes32(0)) revert ZeroNetwork();
        uint256 allowance = spendAllowance[account][msg.sender];
        if (allowance < amount) revert InsufficientSpendAllowance(account, msg.sender, allowance, amount);
        uint256 balance = balanceOf[account];
        if (balance < amount) revert InsufficientCredits(account, balance, amount);
        if (allowance != type(uint256).max) spendAllowance[account][msg.sender] = allowance - amount;
        balanceOf[account] = balance - amount;
        totalSupply -= amount;
        spentOnNetwork[network] += amount;
        if (deviceId != 0) spentOnDevice[deviceId] += amount;
        emit CreditsSpent(account, msg.sender, network, deviceId, amount);
    }

    // ------------------------------------------------------------------ escrow

    /// @notice Moves `amount` of `account`'s balance into the caller's escrow. Escrow role only.
    /// @dev No allowance is asked of the account: an escrow contract holds only for the account
    /// that called it (the consumer's own `open` call is its consent), and ESCROW_ROLE is granted
    /// by governance only to contracts that do so. Held credits cannot reach another account.
    function hold(address account, uint256 amount) external onlyRole(ESCROW_ROLE) {
        if (amount == 0) revert ZeroAmount("amount");
        uint256 balance = balanceOf[account];
        if (balance < amount) revert InsufficientCredits(account, balance, amount);
        balanceOf[account] = balance - amount;
        heldBy[account][msg.sender] += amount;
        totalHeld += amount;
        emit CreditsHeld(account, msg.sender, amount);
    }

    /// @notice Gives `amount` of the credits the caller holds for `account` back to `account`'s
    /// balance (the only account they can go to). Escrow role only.
    function releaseHeld(address account, uint256 amount) external onlyRole(ESCROW_ROLE) {
        if (amount == 0) revert ZeroAmount("amount");
        _takeHeld(account, amount);
        balanceOf[account] += amount;
        emit CreditsReleased(account, msg.sender, amount);
    }

    /// @notice Burns credits the caller holds for `account`, `amounts[i]` for a service on
    /// `network` by `deviceIds[i]` (0: no single device), and records each exactly as `spend`
    /// does, with one `CreditsSpent` per device. Escrow role only.
    /// @return total The credits burned.
    function spendHeld(address account, bytes32 network, uint256[] calldata deviceIds, uint256[] calldata amounts)
        external
        onlyRole(ESCROW_ROLE)
        returns (uint256 total)
    {
        if (network == bytes32(0)) revert ZeroNetwork();
        if (deviceIds.length != amounts.length) revert LengthMismatch(deviceIds.length, amounts.length);
        for (uint256 i; i < amounts.length; ++i) {
            uint256 amount = amounts[i];
            if (amount == 0) revert ZeroAmount("amount");
            total += amount;
            uint256 deviceId = deviceIds[i];
            if (deviceId != 0) spentOnDevice[deviceId] += amount;
            emit CreditsSpent(account, msg.sender, network, deviceId, amount);
        }
        if (total == 0) revert ZeroAmount("amounts");
        _takeHeld(account, total);
        totalSupply -= total;
        spentOnNetwork[network] += total;
    }

    // ------------------------------------------------------------------ governance

    /// @notice Replaces the price feed and its staleness limit. Timelock only.
    function setPriceFeed(IAggregatorV3 feed, uint256 maxPriceAge_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setPriceFeed(feed, maxPriceAge_);
    }

    /// @notice Sets the minting circuit breaker: at most `limit` credits per `window` seconds.
    /// Timelock only.
    function setBreaker(uint256 limit, uint256 window) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _configureBreaker(limit, window);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Removes `amount` from what the caller holds for `account`, and from the held total.
    function _takeHeld(address account, uint256 amount) private {
        uint256 held = heldBy[account][msg.sender];
        if (held < amount) revert InsufficientHeld(account, msg.sender, held, amount);
        heldBy[account][msg.sender] = held - amount;
        totalHeld -= amount;
    }

    function _setPriceFeed(IAggregatorV3 feed, uint256 maxPriceAge_) private {
        if (address(feed) == address(0)) revert ZeroAddress("feed");
        if (maxPriceAge_ == 0) revert InvalidMaxPriceAge(maxPriceAge_);
        uint8 feedDecimals = feed.decimals();
        if (feedDecimals > MAX_FEED_DECIMALS) revert InvalidFeedDecimals(feedDecimals);
        priceFeed = feed;
        priceFeedDecimals = feedDecimals;
        maxPriceAge = maxPriceAge_;
        emit PriceFeedSet(address(feed), maxPriceAge_);
    }

    /// @dev The feed's latest price, refusing stale, non-positive and absurdly large answers.
    function _price() private view returns (int256 answer) {
        uint256 updatedAt;
        (, answer,, updatedAt,) = priceFeed.latestRoundData();
        // forge-lint: disable-next-line(unsafe-typecast) answer > 0 is checked first
        if (answer <= 0 || uint256(answer) > MAX_PRICE) revert InvalidPrice(answer);
        if (updatedAt > block.timestamp || block.timestamp - updatedAt > maxPriceAge) {
            revert StalePrice(updatedAt, maxPriceAge, block.timestamp);
        }
    }

    function _creditsFor(uint256 tokenAmount, int256 price) private view returns (uint256) {
        // forge-lint: disable-next-line(unsafe-typecast) price is in (0, MAX_PRICE], checked by _price
        uint256 usdPerToken = uint256(price);
        return Math.mulDiv(tokenAmount, usdPerToken * CREDITS_PER_USD, TOKEN_UNIT * 10 ** priceFeedDecimals);
    }
}
