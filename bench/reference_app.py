"""The fixed stack reference for bench/load.py: a plain Flask "hello" app, nothing else.

Served by the harness with gunicorn, 1 worker × 8 threads (gthread), as pollserver is by
default; ``GET /`` returns a short JSON body. What pollserver's reads cost beyond this is what
pollserver itself adds to the stack.
"""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def hello():
    return jsonify(status="ok", message="hello")
