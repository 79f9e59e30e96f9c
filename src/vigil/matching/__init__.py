"""The matching core: hashing a file into its signals (:mod:`.hashing`), matching them
against the lists (:mod:`.match`), robust verification of altered copies (:mod:`.robust`),
clip matching of videos (:mod:`.video_match`) and scanning a tree of files (:mod:`.scan`).
Nothing is imported here: ``import vigil.matching.match`` loads only what matching needs."""
