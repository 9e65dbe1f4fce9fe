"""Zoho Recruit: the API v2 client the campaign-to-recruit push calls (`client`)."""
