"""Microsoft Graph through msgraph-sdk: one client per process, and its adapters."""
