// FerryApps: application discovery (see ApplicationDiscovery.swift).
