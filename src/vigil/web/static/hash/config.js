// Where the fingerprints are sent. Served by `vigil serve`: its own API. A copy made with
// `vigil web export DIR --submit-url URL` names that URL; without one, nothing is sent and the
// fingerprints can be saved as a file instead.
window.VIGIL_CONFIG = { submitUrl: "/v1/submissions" };
