"""The launch front door: ``tritonhost.wrap(kernel)[grid](...)`` and eager TMA descriptors."""
