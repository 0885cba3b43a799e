"""Tenancy: organizations, agencies, members and roles, Zenoti centers, organization settings."""
