"""The web console and the single API entry: routes /api/v1/* to the owning service, merges their OpenAPI,
serves live updates from the event stream.
"""
