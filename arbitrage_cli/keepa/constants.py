"""Keepa's constant tables, named as Keepa names them (keepa-api.md §1.2, §2.3, §2.5)."""

from __future__ import annotations

DEFAULT_BASE_URL = "https://api.keepa.com"

# domain id -> locale (7 is retired, 0 reserved)
DOMAINS = {1: "com", 2: "co.uk", 3: "de", 4: "fr", 5: "co.jp", 6: "ca", 8: "it", 9: "es",
           10: "in", 11: "com.mx", 12: "com.br"}

# Product.CsvType, in enum order; the index is the position in `csv` and the stats arrays.
CSV_TYPES = [
    "AMAZON", "NEW", "USED", "SALES", "LISTPRICE", "COLLECTIBLE", "REFURBISHED",
    "NEW_FBM_SHIPPING", "LIGHTNING_DEAL", "WAREHOUSE", "NEW_FBA", "COUNT_NEW", "COUNT_USED",
    "COUNT_REFURBISHED", "COUNT_COLLECTIBLE", "EXTRA_INFO_UPDATES", "RATING", "COUNT_REVIEWS",
    "BUY_BOX_SHIPPING", "USED_NEW_SHIPPING", "USED_VERY_GOOD_SHIPPING", "USED_GOOD_SHIPPING",
    "USED_ACCEPTABLE_SHIPPING", "COLLECTIBLE_NEW_SHIPPING", "COLLECTIBLE_VERY_GOOD_SHIPPING",
    "COLLECTIBLE_GOOD_SHIPPING", "COLLECTIBLE_ACCEPTABLE_SHIPPING", "REFURBISHED_SHIPPING",
    "EBAY_NEW_SHIPPING", "EBAY_USED_SHIPPING", "TRADE_IN", "RENT", "BUY_BOX_USED_SHIPPING",
    "PRIME_EXCL", "COUNT_NEW_FBA", "COUNT_NEW_FBM",
]
CSV = {name: index for index, name in enumerate(CSV_TYPES)}
CSV_SIZE = len(CSV_TYPES)


def csv_has_shipping(index: int) -> bool:
    """`_SHIPPING` series are [t, price, shipping] triples; the others [t, value] pairs."""
    return CSV_TYPES[index].endswith("_SHIPPING")


# Price types /deal accepts in `priceTypes`.
DEAL_PRICE_TYPES = frozenset({0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 18, 19, 20, 21, 22, 32, 33})

# Offer.condition codes
CONDITIONS = {0: "Unknown", 1: "New", 2: "Used - Like New", 3: "Used - Very Good",
              4: "Used - Good", 5: "Used - Acceptable", 6: "Refurbished",
              7: "Collectible - Like New", 8: "Collectible - Very Good",
              9: "Collectible - Good", 10: "Collectible - Acceptable", 11: "Rental"}
USED_CONDITIONS = frozenset({2, 3, 4, 5})
# condition -> csv index of its landed-price series
CONDITION_CSV = {2: 19, 3: 20, 4: 21, 5: 22, 6: 27, 7: 23, 8: 24, 9: 25, 10: 26}

AMAZON_SELLER_ID = "ATVPDKIKX0DER"
WAREHOUSE_SELLER_ID = "A2L77EE7U53NWQ"

# /deal selection fields (keepa-api.md §4) and their JSON types
DEAL_RANGE_FIELDS = ("currentRange", "deltaRange", "deltaPercentRange", "deltaLastRange",
                     "salesRankRange")
DEAL_BOOL_FIELDS = ("isFilterEnabled", "isRangeEnabled", "isLowest", "isLowest90",
                    "isLowestOffer", "isHighest", "isOutOfStock", "isBackInStock", "isRisers",
                    "hasReviews", "filterErotic", "singleVariation", "isPrimeExclusive",
                    "mustHaveAmazonOffer", "mustNotHaveAmazonOffer")
DEAL_INT_FIELDS = ("page", "domainId", "dateRange", "minRating", "sortType")
DEAL_INT_LIST_FIELDS = ("priceTypes", "includeCategories", "excludeCategories",
                        "warehouseConditions")
DEAL_STRING_LIST_FIELDS = (
    "material", "type", "manufacturer", "brand", "productGroup", "model", "color", "size",
    "unitType", "scent", "itemForm", "pattern", "style", "itemTypeKeyword",
    "targetAudienceKeyword", "edition", "format", "author", "binding", "languages",
    "brandStoreName", "brandStoreUrlName", "websiteDisplayGroup", "websiteDisplayGroupName",
    "salesRankDisplayGroup")
DEAL_FIELDS = frozenset(DEAL_RANGE_FIELDS + DEAL_BOOL_FIELDS + DEAL_INT_FIELDS
                        + DEAL_INT_LIST_FIELDS + DEAL_STRING_LIST_FIELDS + ("titleSearch",))

# Deal dateRange: 0 day, 1 week, 2 month (31 d), 3 ninety days.
DATE_RANGE_DAYS = {0: 1, 1: 7, 2: 31, 3: 90}

MAX_ASINS_PER_PRODUCT = 100
MAX_SELLERS_PER_CALL = 100
DEALS_PER_PAGE = 150
MAX_LISTED_DEALS = 10_000  # /deal serves at most this many deals of a query, in pages
OFFERS_MIN, OFFERS_MAX = 20, 100

# Documented token prices (keepa-api.md §2.1, §3, §4, §5, §1.6).
TOKENS_PER_PRODUCT = 1
TOKENS_PER_OFFER_PAGE = 6  # per 10 offers found, per product; replaces the base token
TOKENS_PER_SELLER = 1
TOKENS_PER_DEAL_PAGE = 5
TOKENS_PER_QUERY = 10  # + 1 per 100 ASINs in the result
