from tests.server.test_analytics import *
def test_dbg(seeded, app):
    with app.state.db.session() as s:
        for r in s.query(RepairSession).all():
            print(r.state, r.started_at, r.ended_at, r.case.procedure_id)
