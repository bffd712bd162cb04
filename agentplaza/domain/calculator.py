"""A safe arithmetic evaluator for the `calculator` tool: a model's expression, never `eval`.

The expression is parsed with `ast` and walked over an allow-list of nodes: numbers, the
arithmetic operators, unary minus/plus, a few math functions and constants. Anything else
(names, attributes, calls of anything but the listed functions, lambdas, subscripts,
comprehensions, strings) is refused before any arithmetic runs. Work is bounded: the text's
length, the tree's size and depth, and the size of every integer (a power is checked before it
is computed, so `9**9**9` is refused at once instead of filling memory).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from typing import Final

MAX_EXPRESSION_CHARS: Final = 500
MAX_NODES: Final = 200
MAX_DEPTH: Final = 40
MAX_INT_BITS: Final = 4096
"""No integer (operand, intermediate or result) may be larger: about 1233 decimal digits."""
MAX_ROUND_DIGITS: Final = 30

Number = int | float


class CalcError(ValueError):
    """The expression is refused or cannot be computed; the message says why."""


_CONSTANTS: Final[dict[str, float]] = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _round(x: Number, ndigits: Number | None = None) -> Number:
    if ndigits is None:
        return round(x)
    if not isinstance(ndigits, int) or abs(ndigits) > MAX_ROUND_DIGITS:
        raise CalcError(f"round() digits must be an integer within ±{MAX_ROUND_DIGITS}")
    return round(x, ndigits)


def _log(x: Number, base: Number | None = None) -> float:
    return math.log(x) if base is None else math.log(x, base)


def _min(*args: Number) -> Number:
    if not args:
        raise CalcError("min() needs at least one argument")
    return min(args)


def _max(*args: Number) -> Number:
    if not args:
        raise CalcError("max() needs at least one argument")
    return max(args)


# name -> (function, least arguments, most arguments; None = any number)
_FUNCTIONS: Final[dict[str, tuple[Callable[..., Number], int, int | None]]] = {
    "sqrt": (math.sqrt, 1, 1),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "min": (_min, 1, None),
    "max": (_max, 1, None),
    "log": (_log, 1, 2),
    "log2": (math.log2, 1, 1),
    "log10": (math.log10, 1, 1),
    "exp": (math.exp, 1, 1),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
    "asin": (math.asin, 1, 1),
    "acos": (math.acos, 1, 1),
    "atan": (math.atan, 1, 1),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
}

FUNCTION_NAMES: Final = tuple(sorted(_FUNCTIONS))
CONSTANT_NAMES: Final = tuple(sorted(_CONSTANTS))


def evaluate(expression: str) -> Number:
    """The value of `expression`, or CalcError. Pure and bounded in time and memory."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalcError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    if not expression.strip():
        raise CalcError("empty expression")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise CalcError(f"not an arithmetic expression: {_reason(exc)}") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalcError(f"expression has more than {MAX_NODES} parts")
    try:
        value = _eval(tree.body, 0)
    except CalcError:
        raise
    except ZeroDivisionError:
        raise CalcError("division by zero") from None
    except OverflowError:
        raise CalcError("result too large") from None
    except (ValueError, TypeError) as exc:  # math domain errors: sqrt(-1), log(0)
        raise CalcError(f"cannot compute: {exc}") from None
    return _checked(value)


def format_number(value: Number) -> str:
    """An integer as its digits; a float as Python's shortest round-trip form."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError) and exc.msg:
        return exc.msg
    return type(exc).__name__


def _checked(value: object) -> Number:
    """Refuse complex results (`(-8) ** 0.5`), non-finite floats and integers over the cap."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CalcError("the result is not a real number")
    if isinstance(value, float) and not math.isfinite(value):
        raise CalcError("result too large or undefined")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise CalcError(f"result has more than {MAX_INT_BITS} bits")
    return value


def _eval(node: ast.expr, depth: int) -> Number:
    if depth > MAX_DEPTH:
        raise CalcError(f"expression nested deeper than {MAX_DEPTH}")
    depth += 1
    match node:
        case ast.Constant(value=value):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise CalcError(f"only numbers are allowed, not {type(value).__name__}")
            return _checked(value)
        case ast.Name(id=name):
            if name in _CONSTANTS:
                return _CONSTANTS[name]
            raise CalcError(f"unknown name {name!r} (constants: {', '.join(CONSTANT_NAMES)})")
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return -_eval(operand, depth)
        case ast.UnaryOp(op=ast.UAdd(), operand=operand):
            return +_eval(operand, depth)
        case ast.BinOp(left=left, op=op, right=right):
            return _binary(op, _eval(left, depth), _eval(right, depth))
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if name in _FUNCTIONS:
            function, least, most = _FUNCTIONS[name]
            if any(isinstance(a, ast.Starred) for a in args):
                raise CalcError("*arguments are not allowed")
            if len(args) < least or (most is not None and len(args) > most):
                raise CalcError(f"{name}() takes {least}-{most or 'any'} arguments")
            return _checked(function(*(_eval(a, depth) for a in args)))
        case ast.Call(func=ast.Name(id=name)):
            raise CalcError(f"unknown function {name!r} (functions: {', '.join(FUNCTION_NAMES)})")
        case _:
            raise CalcError(f"{type(node).__name__} is not allowed in an arithmetic expression")


def _binary(op: ast.operator, a: Number, b: Number) -> Number:
    match op:
        case ast.Add():
            return _checked(a + b)
        case ast.Sub():
            return _checked(a - b)
        case ast.Mult():
            return _checked(a * b)
        case ast.Div():
            return _checked(a / b)
        case ast.FloorDiv():
            return _checked(a // b)
        case ast.Mod():
            return _checked(a % b)
        case ast.Pow():
            return _checked(_power(a, b))
        case ast.BitXor():
            raise CalcError("^ is not a power here: use ** (2 ** 10)")
        case _:
            raise CalcError(f"operator {type(op).__name__} is not allowed")


def _power(base: Number, exponent: Number) -> Number:
    """`base ** exponent`, refused before computing when an integer result would be too big."""
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if abs(base) > 1 and (abs(base).bit_length() - 1) * exponent > MAX_INT_BITS:
            raise CalcError(f"result has more than {MAX_INT_BITS} bits")
        powered: int = base**exponent
        return powered
    if isinstance(base, int) and isinstance(exponent, int):  # 0 or negative: a float or 1
        return float(base) ** exponent if exponent < 0 else 1
    # A float power overflows with OverflowError (caught by evaluate) and never grows memory;
    # a negative base with a fractional exponent gives a complex number (refused by _checked).
    result: object = float(base) ** float(exponent)
    return _checked(result)
