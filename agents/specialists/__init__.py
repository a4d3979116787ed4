"""The specialists: one analysis per signal, each a function `analyse(source, ctx) -> SpecialistResult` in its
package's analysis.py (registered in shared/specialists.py), with the helpers only it uses beside it."""
