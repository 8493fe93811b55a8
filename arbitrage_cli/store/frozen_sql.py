"""The migrations' SQL as it shipped (store/schema.py runs them).

A migration must do tomorrow what it did the day it shipped, so it reads only these literals,
never the live constants of schema.py or the query layer (the visibility rule, the sorts, the
columns may change; a new migration carries such a change). tests/test_store.py holds the
migrations to this.
"""

M001_DEAL_COLUMNS = {
    'asin': str,
    'status': str,
    'skip_reason': str,
    'title': str,
    'author': str,
    'category': str,
    'binding': str,
    'publisher': str,
    'root_category': int,
    'seller_id': str,
    'seller_name': str,
    'seller_rating_pct': float,
    'seller_rating_count': int,
    'seller_quality': float,
    'condition': int,
    'is_fba': int,
    'price_cents': int,
    'shipping_cents': int,
    'price_now_cents': int,
    'used_offer_count': int,
    'live_offer_count': int,
    'list_at_cents': int,
    'list_at_uncapped_cents': int,
    'list_at_basis': str,
    'list_at_capped': int,
    'price_suspicious': int,
    'trough_price_cents': int,
    'peak_month': int,
    'trough_month': int,
    'season': str,
    'sells': str,
    'avg_1yr_cents': int,
    'percent_down_pct': float,
    'recent_sale_cents': int,
    'sales_inferred': int,
    'offer_drops': int,
    'deal_trust_pct': float,
    'offers_trend': str,
    'price_trend': str,
    'sales_rank': int,
    'drops_30': int,
    'drops_90': int,
    'drops_365': int,
    'amazon_price_cents': int,
    'amazon_selling': int,
    'fba_fee_cents': int,
    'fba_fee_estimated': int,
    'referral_fee_pct': float,
    'referral_fee_estimated': int,
    'closing_fee_cents': int,
    'all_in_cost_cents': int,
    'amazon_fees_cents': int,
    'profit_cents': int,
    'margin_pct': float,
    'roi_pct': float,
    'min_listing_price_cents': int,
    'settings_version': int,
    'last_update_keepa': int,
    'last_price_change_keepa': int,
    'offers_checked_keepa': int,
    'first_seen_at': str,
    'confirmed_at': str,
    'updated_at': str,
    'next_check_at': str,
    'expired_at': str,
    'hidden': int,
}
M001_VISIBLE_DEALS_SQL = "select * from deals\nwhere status = 'deal'\n  and hidden = 0\n  and expired_at is null\n  and coalesce(price_suspicious, 0) = 0\n  and list_at_cents > 0\n  and avg_1yr_cents > 0\n  and profit_cents > 0\n"
M004_FTS_COLUMNS = ["title", "author", "category"]
M006_INDEXES = (
    "create index if not exists idx_visible_profit on deals (coalesce(profit_cents, -9e+18) desc, asin) where status = 'deal' and hidden = 0 and expired_at is null and coalesce(price_suspicious, 0) = 0 and list_at_cents > 0 and avg_1yr_cents > 0 and profit_cents > 0",
    "create index if not exists idx_visible_roi on deals (coalesce(roi_pct, -9e+18) desc, asin) where status = 'deal' and hidden = 0 and expired_at is null and coalesce(price_suspicious, 0) = 0 and list_at_cents > 0 and avg_1yr_cents > 0 and profit_cents > 0",
    "create index if not exists idx_visible_rank on deals (coalesce(sales_rank, -9e+18) desc, asin) where status = 'deal' and hidden = 0 and expired_at is null and coalesce(price_suspicious, 0) = 0 and list_at_cents > 0 and avg_1yr_cents > 0",
    "create index if not exists idx_visible_last_change on deals (coalesce(last_price_change_keepa, -9e+18) desc, asin) where status = 'deal' and hidden = 0 and expired_at is null and coalesce(price_suspicious, 0) = 0 and list_at_cents > 0 and avg_1yr_cents > 0",
)
M011_DEALS_PRETTY_SQL = """create view deals_pretty as
select v.asin,
  case when v.image_name is not null
    then 'https://m.media-amazon.com/images/I/' || v.image_name end as cover,
  v.title, v.author, v.category, v.condition_label,
  round(v.price_now_cents / 100.0, 2) as buy,
  round(v.list_at_cents / 100.0, 2) as list_at,
  round(v.profit_cents / 100.0, 2) as profit,
  round(v.roi_pct, 1) as roi, round(v.margin_pct, 1) as margin,
  v.list_at_confidence as confidence, v.days_to_sell, v.sale_days_180,
  v.sales_rank, v.season, v.seller_name,
  coalesce(r.status, 'unknown') as gating, r.approval_url,
  m.decision as mark,
  'https://www.amazon.com/dp/' || v.asin || '?psc=1&aod=1' as amazon_url,
  'https://keepa.com/#!product/1-' || v.asin as keepa_url,
  '/-/arbitrage/chart/' || v.asin as chart,
  v.profit_cents,
  (select d.rowid from deals d where d.asin = v.asin) as search_rowid
from visible_deals v
left join user_restrictions r on r.asin = v.asin
left join marks m on m.asin = v.asin
where coalesce(m.decision, '') not in ('bought', 'ignored')"""
# 012: the same view with the links of the database's marketplace
M012_DEALS_PRETTY_SQL = M011_DEALS_PRETTY_SQL.replace("""
  'https://www.amazon.com/dp/' || v.asin || '?psc=1&aod=1' as amazon_url,
  'https://keepa.com/#!product/1-' || v.asin as keepa_url,""", """
  'https://www.amazon.' || coalesce((select value from system_state
    where key = 'amazon_tld'), 'com') || '/dp/' || v.asin || '?psc=1&aod=1' as amazon_url,
  'https://keepa.com/#!product/' || coalesce((select value from system_state
    where key = 'domain_id'), 1) || '-' || v.asin as keepa_url,""")
assert M012_DEALS_PRETTY_SQL != M011_DEALS_PRETTY_SQL
M005_DEALS_PRETTY_SQL = """
select asin, title, author, category,
  case condition when 1 then 'New' when 2 then 'Used - Like New'
    when 3 then 'Used - Very Good' when 4 then 'Used - Good' when 5 then 'Used - Acceptable'
    else 'Other' end as condition_label,
  printf('$%.2f', price_now_cents / 100.0) as buy,
  printf('$%.2f', list_at_cents / 100.0) as list_at,
  printf('$%.2f', profit_cents / 100.0) as profit,
  printf('%.1f%%', roi_pct) as roi,
  sales_rank, season, seller_name, profit_cents,
  'https://www.amazon.com/dp/' || asin || '?psc=1&aod=1' as amazon_url
from visible_deals
"""
# 007: the same with the gating status
M007_DEALS_PRETTY_SQL = M005_DEALS_PRETTY_SQL.replace(
    " as amazon_url\nfrom visible_deals",
    " as amazon_url,\n  coalesce((select r.status from user_restrictions r where r.asin = "
    "visible_deals.asin), 'unknown') as gating, (select r.approval_url from "
    "user_restrictions r where r.asin = visible_deals.asin) as approval_url\nfrom visible_deals")
# 013: the List-at range and the profit at its low end beside the List at
M013_DEALS_PRETTY_SQL = M012_DEALS_PRETTY_SQL.replace("""
  round(v.list_at_cents / 100.0, 2) as list_at,
  round(v.profit_cents / 100.0, 2) as profit,""", """
  round(v.list_at_cents / 100.0, 2) as list_at,
  round(v.list_at_low_cents / 100.0, 2) as list_at_low,
  round(v.list_at_high_cents / 100.0, 2) as list_at_high,
  round(v.profit_cents / 100.0, 2) as profit,
  round(v.profit_low_cents / 100.0, 2) as profit_low,""")
assert M013_DEALS_PRETTY_SQL != M012_DEALS_PRETTY_SQL

# 014: counts kept by triggers, so totals and `status` never count a million rows. What a row
# contributes, as (name, delta) rows; {r} is new or old, {s} +1 or -1.
# the visibility rule on one row (the generated column `visibility` would not survive a table
# transform, and the marks triggers must)
M014_VISIBLE = ("{r}.status = 'deal' and {r}.hidden = 0 and {r}.expired_at is null and "
                "coalesce({r}.price_suspicious, 0) = 0 and {r}.list_at_cents > 0 and "
                "{r}.avg_1yr_cents > 0 and {r}.profit_cents > 0")
M014_CONTRIBUTIONS = """
  select 'rows' as name, {s} as d
  union all select 'by:' || coalesce(case when {r}.status = 'screened'
      then 'screened: ' || coalesce({r}.skip_reason, 'unknown')
      else coalesce({r}.skip_reason, {r}.status) end,
      'unknown'), {s}
  union all select 'visible_all', {s} where """ + M014_VISIBLE + """
  union all select 'visible', {s} where """ + M014_VISIBLE + """ and not exists (
      select 1 from marks m where m.asin = {r}.asin and m.decision in ('bought', 'ignored'))
  union all select 'screened_promising', {s} where {r}.status = 'screened'
      and {r}.skip_reason = 'not_profitable' and {r}.screen_bound_cents > 0"""
M014_UPSERT = "on conflict (name) do update set n = n + excluded.n"
M014_BUMP = "update deal_counts set n = n + 1 where name = 'generation'"
M014_MARK_HIDES = ("{r}.decision in ('bought', 'ignored') and exists (select 1 from deals dl "
                   "where dl.asin = {r}.asin and " + M014_VISIBLE.replace("{r}", "dl") + ")")
M014_TRIGGERS = {
    "deal_counts_ai": f"""create trigger deal_counts_ai after insert on deals begin
  insert into deal_counts (name, n) select name, sum(d) from (
  {M014_CONTRIBUTIONS.format(r='new', s=1)}
  union all select 'generation', 1) group by name {M014_UPSERT};
end""",
    "deal_counts_ad": f"""create trigger deal_counts_ad after delete on deals begin
  insert into deal_counts (name, n) select name, sum(d) from (
  {M014_CONTRIBUTIONS.format(r='old', s=-1)}
  union all select 'generation', 1) group by name {M014_UPSERT};
end""",
    # every update changes what some filter counts: the generation, for the totals' cache
    "deal_counts_au": f"""create trigger deal_counts_au after update on deals begin
  {M014_BUMP};
end""",
    # the counts themselves only when a counted property changed (recalc rewrites profits)
    "deal_counts_auc": f"""create trigger deal_counts_auc after update on deals
when ({M014_VISIBLE.format(r='old')}) is not ({M014_VISIBLE.format(r='new')})
  or old.status is not new.status
  or old.skip_reason is not new.skip_reason or old.asin is not new.asin
  or (old.screen_bound_cents > 0) is not (new.screen_bound_cents > 0) begin
  insert into deal_counts (name, n) select name, sum(d) from (
  {M014_CONTRIBUTIONS.format(r='new', s=1)}
  union all {M014_CONTRIBUTIONS.format(r='old', s=-1).strip()}
  ) group by name having sum(d) != 0 {M014_UPSERT};
end""",
    "deal_counts_marks_ai": f"""create trigger deal_counts_marks_ai after insert on marks begin
  insert into deal_counts (name, n) select 'visible', -1 where {M014_MARK_HIDES.format(r='new')}
  {M014_UPSERT};
  {M014_BUMP};
end""",
    "deal_counts_marks_ad": f"""create trigger deal_counts_marks_ad after delete on marks begin
  insert into deal_counts (name, n) select 'visible', 1 where {M014_MARK_HIDES.format(r='old')}
  {M014_UPSERT};
  {M014_BUMP};
end""",
    "deal_counts_marks_au": f"""create trigger deal_counts_marks_au after update on marks begin
  insert into deal_counts (name, n) select 'visible', sum(d) from (
    select 1 as d where {M014_MARK_HIDES.format(r='old')}
    union all select -1 where {M014_MARK_HIDES.format(r='new')}) having sum(d) != 0
  {M014_UPSERT};
  {M014_BUMP};
end""",
    **{f"deal_counts_restrictions_a{op[0]}": f"""create trigger deal_counts_restrictions_a{op[0]}
after {op} on user_restrictions begin
  {M014_BUMP};
end""" for op in ("insert", "update", "delete")},
}
M014_BY_KEY = ("'by:' || coalesce(case when status = 'screened' then 'screened: ' || "
               "coalesce(skip_reason, 'unknown') else coalesce(skip_reason, status) end, "
               "'unknown')")
M014_RECOUNT = [
    "delete from deal_counts where name != 'generation'",
    "insert into deal_counts (name, n) values ('generation', 0) on conflict (name) do nothing",
    "insert into deal_counts (name, n) select 'rows', count(*) from deals",
    f"insert into deal_counts (name, n) select {M014_BY_KEY}, count(*) from deals group by 1",
    "insert into deal_counts (name, n) select 'visible_all', count(*) from deals "
    f"where {M014_VISIBLE.format(r='deals')}",
    "insert into deal_counts (name, n) select 'visible', count(*) from deals "
    f"where {M014_VISIBLE.format(r='deals')} and not exists (select 1 from marks m where m.asin = "
    "deals.asin and m.decision in ('bought', 'ignored'))",
    "insert into deal_counts (name, n) select 'screened_promising', count(*) from deals "
    "where status = 'screened' and skip_reason = 'not_profitable' and screen_bound_cents > 0",
    M014_BUMP,
]

# 015: an index per threshold filter over the rows visibility's stored inputs allow (recalc
# never rewrites these columns), so a filter few deals pass reads those few (query layer:
# queries.filter_index) instead of walking the whole sort index to fill a page.
M015_FILTER_COLUMNS = ("condition", "deal_trust_pct", "list_at_confidence", "days_to_sell",
                       "sale_days_180", "seller_quality", "percent_down_pct", "drops_30",
                       "sales_rank")
M015_INDEXES = tuple(
    f"create index if not exists idx_filter_{c} on deals ({c}) where status = 'deal' and "
    "hidden = 0 and expired_at is null and coalesce(price_suspicious, 0) = 0 and "
    "list_at_cents > 0 and avg_1yr_cents > 0" for c in M015_FILTER_COLUMNS)

# 016: the reasons a deal is hidden in words, each said once (store/visibility.py says the
# same in Python; a test holds them equal), and deals_pretty without its internal columns
# (the plugin hides search_rowid, which full-text search needs).
M016_REASON = """case coalesce(skip_reason, '')
        when 'not_profitable' then 'not profitable'
        when 'no_used_sale_1y' then 'no used sale in the last year'
        when 'list_at_over_hard_cap' then 'List at over the hard cap'
        when 'offers_unknown' then 'Keepa did not collect the live offers (retried)'
        when 'no_live_offer' then 'no live offer'
        when 'no_live_used_offer' then 'no live used offer'
        when 'ghost_offer' then 'only merchant offers with unknown shipping'
        when 'no_priced_offer' then 'no live used offer has a price'
        when 'not_returned' then 'Keepa did not return it (retried)'
        when 'analysis_error' then 'could not be analysed (retried)'
        when 'incomplete_product' then 'Keepa''s answer was incomplete (retried)'
        when 'duplicate_in_response' then 'Keepa returned it twice (retried)'
        when 'invalid_product' then 'not a valid product'
        when 'no_inferred_sales' then 'no used sale to price from'
        when '' then 'not analysed yet'
        else replace(skip_reason, '_', ' ') end"""
M016_VISIBILITY = """alter table deals add column visibility text generated always as (
    case when status = 'deal' and hidden = 0 and expired_at is null
        and coalesce(price_suspicious, 0) = 0 and list_at_cents > 0 and avg_1yr_cents > 0
        and profit_cents > 0 then 'visible'
    else rtrim(
        iif(status != 'deal', iif(status = 'screened', 'screened from its history: ', '')
            || """ + M016_REASON + """ || '; ', '')
        || iif(hidden != 0, 'hidden by you; ', '')
        || iif(expired_at is not null, 'no longer listed by Keepa; ', '')
        || iif(coalesce(price_suspicious, 0) != 0,
               'List at over 3x the used price, needs review; ', '')
        || iif((coalesce(list_at_cents, 0) <= 0 or coalesce(avg_1yr_cents, 0) <= 0)
               and not (status != 'deal'
                        and coalesce(skip_reason, '') in ('no_used_sale_1y', 'no_inferred_sales')),
               'no used sale in the last year; ', '')
        || iif(coalesce(profit_cents, 0) <= 0
               and not (status != 'deal' and coalesce(skip_reason, '') = 'not_profitable'),
               'not profitable; ', ''), '; ')
    end) virtual"""
M016_DEALS_PRETTY_SQL = M013_DEALS_PRETTY_SQL.replace("""
  v.profit_cents,
  (select""", """
  (select""")
assert M016_DEALS_PRETTY_SQL != M013_DEALS_PRETTY_SQL

# 017: what `notify` sent where (issue 26): one row an attempt; the target is a fingerprint
# of its URL (the URL holds tokens: never stored), the service its scheme.
M017_NOTIFICATIONS = """create table notifications (
    id integer primary key,
    asin text not null,
    target text not null,
    service text not null,
    attempted_at text not null,
    outcome text not null check (outcome in ('sent', 'failed')),
    reason text not null,
    run_id integer references runs (id),
    price_now_cents integer,
    list_at_cents integer,
    profit_cents integer,
    roi_pct real
) strict"""
M017_INDEX = ("create index idx_notifications_target_asin on notifications "
              "(target, asin, id)")
