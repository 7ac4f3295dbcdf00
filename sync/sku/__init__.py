"""The SKU analysis: per-SKU sales, revenue, stock and days of cover from the stored records (SPEC section 2).

`facts` reads what one record says, `aggregate` accumulates per SKU, `job` runs it per client and
rebuilds `client_<id>_sku_cache`, `cli` is `python sku_analysis_cron.py`.
"""
