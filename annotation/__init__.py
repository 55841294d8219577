"""Label Studio: server, labelling config, task routing, pulling and reconciling coders' work."""
