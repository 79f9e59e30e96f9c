"""The review console (issue 20): reviewers' accounts and sessions (:mod:`.accounts`), the
queue of items, one per distinct image (:mod:`.items`), wellness settings and exposure counted
from the audit log (:mod:`.wellness`), softened renders of kept content (:mod:`.render`), and
decisions with what they feed back (:mod:`.decisions`). The pages are :mod:`vigil.web`. See
docs/review.md."""
