"""Private keys for SMART client assertions: a JWK, a JWKS (pick by kid/alg) or a PEM file.

RS384 and ES384 are the two algorithms every SMART Backend Services server must accept:
https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from adapter.errors import ConfigError

SUPPORTED_ALGORITHMS = ("RS384", "ES384")


@dataclass(frozen=True)
class SigningKey:
    """A private key for JWT client assertions, with its algorithm and ``kid``."""

    algorithm: str
    kid: str
    key: Any = field(repr=False)


def load_signing_key(path: Path, *, kid: str | None = None) -> SigningKey:
    """Load a signing key from a JWK, a JWKS (picked by `kid` and algorithm) or a PEM file.

    Raises:
        ConfigError: the file cannot be read, holds no usable RS384/ES384 private key, or a PEM
            key comes without a `kid`.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the private key file {path}: {exc.strerror}") from exc
    try:
        document = json.loads(text)
    except ValueError:
        return _pem_key(text, path, kid)
    keys = document.get("keys") if isinstance(document, dict) and "keys" in document else [document]
    for jwk in keys if isinstance(keys, list) else []:
        algorithm = _jwk_algorithm(jwk)
        if algorithm and (kid is None or jwk.get("kid", kid) == kid) and (jwk.get("kid") or kid):
            try:
                key = jwt.PyJWK(jwk, algorithm=algorithm).key
            except jwt.PyJWTError as exc:
                raise ConfigError(f"the key {jwk.get('kid')!r} in {path} is invalid") from exc
            return SigningKey(algorithm, str(jwk.get("kid") or kid), key)
    wanted = f" with kid {kid!r}" if kid else " with a kid"
    raise ConfigError(f"{path} holds no RS384/ES384 private signing key{wanted}")


def _jwk_algorithm(jwk: Any) -> str | None:
    if not isinstance(jwk, dict) or "d" not in jwk:  # public keys cannot sign
        return None
    if "sign" not in jwk.get("key_ops", ["sign"]) or jwk.get("use", "sig") != "sig":
        return None
    natural = {"RSA": "RS384"}.get(jwk.get("kty", "")) or (
        "ES384" if jwk.get("kty") == "EC" and jwk.get("crv") == "P-384" else None
    )
    return natural if jwk.get("alg", natural) == natural else None


def _pem_key(text: str, path: Path, kid: str | None) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError) as exc:  # TypeError: an encrypted key
        raise ConfigError(f"{path} is neither a JWK/JWKS nor an unencrypted PEM key") from exc
    if isinstance(key, rsa.RSAPrivateKey):
        algorithm = "RS384"
    elif isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1":
        algorithm = "ES384"
    else:
        raise ConfigError(f"{path}: only RSA or EC P-384 keys can sign RS384/ES384 assertions")
    if not kid:
        raise ConfigError(f"{path} is a PEM key: give the key id (kid) registered with the server")
    return SigningKey(algorithm, kid, key)
