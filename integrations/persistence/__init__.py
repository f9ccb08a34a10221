"""SQLAlchemy persistence shared by every carebot table (SQLite default, PostgreSQL)."""
