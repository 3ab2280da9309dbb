"""Tenant settings and feature flags (seed 002), with OpenFeature remote evaluation."""
