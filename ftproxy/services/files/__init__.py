"""The Files API and the scanning of an upload's bytes."""
