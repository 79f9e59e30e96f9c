"""The peer of `bench.service`: python-threatexchange's ``PDQIndex`` behind a minimal FastAPI
server on the same stack (uvicorn, one process), since OpenMediaMatch itself is not run here.

    python -m bench.service_peer HASHES.npy FD
"""

import socket
import sys

import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response


def main() -> None:
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex

    data = np.load(sys.argv[1])
    index = PDQIndex([(row.tobytes().hex(), i) for i, row in enumerate(data)])
    app = FastAPI()

    @app.post("/match")
    async def match(request: Request) -> Response:
        body = await request.json()
        found = index.query(body["hash"])
        hits = [{"id": r.metadata, "distance": r.similarity_info.distance} for r in found]
        import json

        return Response(json.dumps({"matches": hits}), media_type="application/json")

    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=int(sys.argv[2]))])


if __name__ == "__main__":
    main()
