"""Sample master data files (items, locations, cross references) in the import format of
`stockbridge import-master`, for trying the hub by hand."""
