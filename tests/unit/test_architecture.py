"""The dependency rule, beyond what import-linter's contracts say: no module
of Heard imports itself back, however far round, counting the imports inside
functions and under TYPE_CHECKING (grimp sees them all)."""

from __future__ import annotations

import grimp


def _cycles() -> list[list[str]]:
    graph = grimp.build_graph("bot", "adapters", "storage")
    found: list[list[str]] = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain:
                found.append([module, *chain])
    return found


def test_no_module_imports_itself_back() -> None:
    assert _cycles() == []


def test_the_cycle_check_would_see_a_cycle() -> None:
    graph = grimp.build_graph("bot", "adapters", "storage")
    graph.add_import(importer="bot.core.messages", imported="bot.runtime.app")
    assert graph.find_shortest_chain(importer="bot.runtime.app", imported="bot.core.messages")
    assert graph.find_shortest_chain(importer="bot.core.messages", imported="bot.runtime.app")
